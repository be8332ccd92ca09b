// Waiting for Ctrl-C in the commands that run until interrupted (server, up, agent, runtime, components).

/**
 * Resolves when SIGINT or SIGTERM arrives. Later signals are ignored while the caller shuts down (a wrapper such as
 * npx or tsx may relay the same Ctrl-C twice, and dying half-way would leave containers and mounts behind).
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((res) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      const again = (): void => void process.stderr.write('still stopping; send SIGKILL to force\n');
      process.on('SIGINT', again);
      process.on('SIGTERM', again);
      res(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
