// Composes okr-service's subgraph with a second one into a federation supergraph, as a
// federation router's build step does (@apollo/composition, Federation 2).
//   node compose.mjs <okr-service SDL file> <other subgraph SDL file>
// Prints {"supergraphSdl": ..., "hints": [...]} and exits 0, or prints the composition
// errors and exits 1.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// The tools are installed in tests/tools (npm ci there).
const require = createRequire(new URL("../tools/package.json", import.meta.url));
const { composeServices } = require("@apollo/composition");
const { parse } = require("graphql");

const [okr, other] = process.argv.slice(2);
if (!okr || !other) {
  console.error("usage: node compose.mjs <okr-service SDL> <other subgraph SDL>");
  process.exit(2);
}
const subgraph = (name, file) => ({
  name,
  url: `http://${name}.internal/graphql`,
  typeDefs: parse(readFileSync(file, "utf8")),
});
const result = composeServices([subgraph("okr", okr), subgraph("roadmap", other)]);
if (result.errors) {
  for (const error of result.errors) console.error(`${error.extensions?.code}: ${error.message}`);
  process.exit(1);
}
console.log(
  JSON.stringify({
    supergraphSdl: result.supergraphSdl,
    hints: result.hints.map((hint) => `${hint.definition.code}: ${hint.message}`),
  }),
);
