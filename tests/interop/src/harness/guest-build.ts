import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The files QEMU boots: built by guest/build.sh, cached outside the repository. */
export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
  /** package versions and the module load order, as build.sh recorded them */
  versions: string;
}

export const GUEST_DIR = resolve(import.meta.dirname, "../../guest");

let pending: Promise<GuestImage> | undefined;

/**
 * Builds the guest (or finds it in the cache) once per process. The first build downloads
 * about 75 MB of Debian packages and takes 15-25 s; later calls take about 1 s.
 */
export function buildGuest(): Promise<GuestImage> {
  pending ??= runBuild().catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}

function runBuild(): Promise<GuestImage> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn("bash", [join(GUEST_DIR, "build.sh")], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const dir = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || !dir) {
        reject(new Error(`guest/build.sh failed (exit ${code}):\n${stderr}`));
        return;
      }
      const image: GuestImage = {
        dir,
        kernel: join(dir, "vmlinuz"),
        initrd: join(dir, "initrd.gz"),
        versions: existsSync(join(dir, "versions.txt"))
          ? readFileSync(join(dir, "versions.txt"), "utf8")
          : "",
      };
      if (!existsSync(image.kernel) || !existsSync(image.initrd)) {
        reject(new Error(`guest/build.sh printed ${dir}, which has no vmlinuz/initrd.gz`));
        return;
      }
      resolvePromise(image);
    });
  });
}
