/** Runs one compiled example (argv[2]) as the module it is, then closes its clients' event streams so node can exit. */
import { pathToFileURL } from "node:url";
import { closeAll } from "./harness.js";

try {
  await import(pathToFileURL(process.argv[2]!).href);
} finally {
  await closeAll();
}
