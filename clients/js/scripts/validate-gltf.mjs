// Validate glTF 2.0 files with the Khronos glTF validator (npm gltf-validator).
//   node scripts/validate-gltf.mjs FILE.glb [FILE.glb ...]
// Prints one JSON line per file: {file, errors, warnings, infos, messages: [{code, severity,
// message, pointer}]}; exits 1 when any file has an error, 2 when a file cannot be read.
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import validator from "gltf-validator";

const SEVERITY = ["error", "warning", "info", "hint"];

async function validate(file) {
  const bytes = new Uint8Array(await readFile(file));
  const report = await validator.validateBytes(bytes, {
    uri: basename(file),
    maxIssues: 100,
    externalResourceFunction: (uri) => Promise.reject(new Error(`external resource ${uri}`)),
  });
  return {
    file,
    errors: report.issues.numErrors,
    warnings: report.issues.numWarnings,
    infos: report.issues.numInfos,
    messages: report.issues.messages.map((m) => ({
      code: m.code,
      severity: SEVERITY[m.severity] ?? String(m.severity),
      message: m.message,
      pointer: m.pointer,
    })),
  };
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/validate-gltf.mjs FILE.glb [FILE.glb ...]");
  process.exit(2);
}
let failed = false;
for (const file of files) {
  let result;
  try {
    result = await validate(file);
  } catch (error) {
    console.error(`${file}: ${error.message ?? error}`);
    process.exit(2);
  }
  failed ||= result.errors > 0;
  console.log(JSON.stringify(result));
}
process.exit(failed ? 1 : 0);
