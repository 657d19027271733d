// The official MJML compiler (mjml-js) as a test oracle: never a runtime dependency.
// Reads {"module": "<dir with node_modules/mjml>", "documents": {name: mjml}} on stdin,
// writes {name: {"html": ..., "errors": [...]}} on stdout.
const path = require('path');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const mjml2html = require(path.join(input.module, 'node_modules', 'mjml'));

async function main() {
  const out = {};
  for (const [name, source] of Object.entries(input.documents)) {
    try {
      // MJML 4 returns the result, MJML 5 a promise of it.
      const result = await Promise.resolve(mjml2html(source, {validationLevel: 'soft'}));
      out[name] = {html: result.html, errors: (result.errors || []).map(e => e.formattedMessage || String(e.message))};
    } catch (err) {
      out[name] = {html: null, errors: [String(err && err.message || err)]};
    }
  }
  process.stdout.write(JSON.stringify(out));
}
main();
