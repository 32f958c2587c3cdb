/**
 * Makes the Grafana packages loadable in Node for mocha: they expect a browser. Four shims, each for a measured
 * failure: a jsdom window (@grafana/runtime reads window at import), the DOM event classes on globalThis (uPlot
 * dispatches events through them), matchMedia and a canvas context (used at import by @grafana/ui's theme and
 * uPlot), and CSS imports as empty modules.
 */
// Grafana's runtime checks NODE_ENV (as under Jest) to skip browser-only start-up warnings.
process.env.NODE_ENV = process.env.NODE_ENV ?? 'test';

import 'global-jsdom/register';
import Module from 'node:module';

const g = globalThis as unknown as Record<string, unknown>;
g.Event = window.Event;
g.CustomEvent = window.CustomEvent;
g.EventTarget = window.EventTarget;

window.matchMedia =
  window.matchMedia ??
  ((query: string) =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => {},
      removeListener: () => {},
      addEventListener: () => {},
      removeEventListener: () => {},
      dispatchEvent: () => false,
    }) as unknown as MediaQueryList);
// Some modules call the bare global, which global-jsdom copied before this stub existed.
g.matchMedia = window.matchMedia;

// jsdom has no canvas; Grafana only measures text with it.
window.HTMLCanvasElement.prototype.getContext = (() => null) as unknown as HTMLCanvasElement['getContext'];

const extensions = (Module as unknown as { _extensions: Record<string, (m: { exports: unknown }) => void> })
  ._extensions;
extensions['.css'] = (m) => {
  m.exports = {};
};

process.env.TZ = 'UTC';
