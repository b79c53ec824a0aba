// The echo service and its client in one process, over the in-memory transport:
//   npx --yes pnpm@12.4.2 --filter @tipcjs/example-echo-service demo
import { runOverMemory } from "./memory.js";

await runOverMemory((line) => console.log(line));
