// The link check that follows a write: each file named is linked as an ES module, as Node does before it
// runs any of it, and never evaluated. A named import that its module does not export is reported as Node
// reports it at load ("The requested module ... does not provide an export named ..."); `node --check`
// cannot see that, because it parses one file alone. Usage: node --experimental-vm-modules --no-warnings
// --input-type=module -e "$(this file)" MARK FILE...
// Only the link's own errors count: a file that does not parse is node --check's to report, and a module
// that cannot be read here (a later step writes it, a package is not installed, not JavaScript) is skipped.
import vm from 'node:vm';
import fs from 'node:fs';
import { pathToFileURL, fileURLToPath } from 'node:url';

const [mark, ...files] = process.argv.slice(1);
class Skip extends Error {}

for (const file of files) {
  const modules = new Map();
  const load = (url) => {
    let module = modules.get(url);
    if (!module) {
      if (!/\.m?js$/.test(url)) throw new Skip();
      try {
        module = new vm.SourceTextModule(fs.readFileSync(fileURLToPath(url), 'utf8'), { identifier: url });
      } catch {
        throw new Skip();
      }
      modules.set(url, module);
    }
    return module;
  };
  const linker = async (specifier, from) => {
    if (/^\.{0,2}\//.test(specifier)) return load(new URL(specifier, from.identifier).href);
    let namespace;
    try {
      namespace = await import(specifier);
    } catch {
      throw new Skip();
    }
    const names = Object.keys(namespace);
    return new vm.SyntheticModule(names, function () {
      for (const name of names) this.setExport(name, namespace[name]);
    });
  };
  try {
    await load(pathToFileURL(file).href).link(linker);
  } catch (error) {
    if (error instanceof SyntaxError) console.log(`${mark}${file}\n${error.name}: ${error.message}\n${mark}failed`);
  }
}
