// Comprueba con el parser de Mermaid cada diagrama ```mermaid del informe y
// del README (issue #18): un diagrama que no se puede leer no se dibuja, y
// GitHub muestra un error en su lugar. Uso, desde la raíz del repositorio:
//   MERMAID_TOOLS=DIR node .ci/mermaid.mjs
// donde DIR tiene `npm install mermaid jsdom` hecho (lo hace .ci/run).
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const tools = resolve(process.env.MERMAID_TOOLS ?? "target/mermaid-tools");
const require = createRequire(join(tools, "package.json"));
const { JSDOM } = require("jsdom");

// Mermaid espera un navegador: jsdom le da `window` y `document`.
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import(pathToFileURL(require.resolve("mermaid")).href);
mermaid.initialize({ startOnLoad: false });

const files = [
  "README.md",
  ...readdirSync("informe")
    .filter((f) => f.endsWith(".md"))
    .map((f) => join("informe", f)),
];
let count = 0;
const broken = [];
for (const file of files) {
  const lines = readFileSync(file, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```mermaid") continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== "```") end++;
    const text = lines.slice(start, end).join("\n");
    count++;
    try {
      await mermaid.parse(text);
    } catch (error) {
      broken.push(`${file}:${start}: ${String(error.message ?? error).split("\n")[0]}`);
    }
    i = end;
  }
}
if (broken.length > 0) {
  console.error(`mermaid: ${broken.length} de ${count} diagramas no se pueden leer:`);
  for (const b of broken) console.error(`  ${b}`);
  process.exit(1);
}
console.log(`mermaid: los ${count} diagramas se leen bien`);
