/**
 * Runs a command-line tool's `main`: what it returns is the exit code; an error it did not handle is printed as
 * "<name>: failed: <message>" (never a stack trace) with exit code 1.
 */
export function runCli(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`${name}: failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
