import { spawn } from "node:child_process";

/**
 * Ties process `pid` to this one: a detached bash SIGKILLs it once a pipe only this process holds
 * reaches end of file, so it goes however this process ends (even SIGKILLed). Call the returned
 * function once `pid` has exited, to end the watcher.
 */
export function lifeline(pid: number | undefined, name: string): () => void {
  if (pid === undefined) return () => {};
  const watcher = spawn("bash", ["-c", 'read -r _ <&3; kill -9 "$1" 2>/dev/null', name, String(pid)], {
    stdio: ["ignore", "ignore", "ignore", "pipe"],
    detached: true,
  });
  watcher.unref();
  return () => {
    watcher.kill("SIGKILL");
  };
}
