// Two ordinary nodes and a discovery-only node on 127.0.0.1:
//   npx --yes pnpm@12.4.2 --filter @tipcjs/example-discovery-only demo
import { discoverOnLoopback } from "./loopback.js";

await discoverOnLoopback((line) => console.log(line));
