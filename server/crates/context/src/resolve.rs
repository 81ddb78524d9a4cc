//! Relative imports to files: `./x` from `src/a.ts` is `src/x.ts`, `src/x.tsx`, `src/x/index.ts`, ...; a
//! `.js` specifier may name a `.ts` file (TypeScript's ESM convention). Bare specifiers (`react`) are
//! packages, not workspace files.

/// Extensions tried, in order, for a specifier without one.
const EXTENSIONS: &[&str] = &["ts", "tsx", "d.ts", "js", "jsx", "mjs", "cjs", "mts", "cts"];

/// The workspace file `specifier` (imported from `from`) names, if `exists` knows it.
pub fn resolve_import(from: &str, specifier: &str, exists: &dyn Fn(&str) -> bool) -> Option<String> {
    if !(specifier.starts_with("./") || specifier.starts_with("../") || specifier == "." || specifier == "..") {
        return None;
    }
    let dir = from.rsplit_once('/').map_or("", |(d, _)| d);
    let joined = normalize(&format!("{dir}/{specifier}"))?;
    let mut candidates = vec![joined.clone()];
    for ext in EXTENSIONS {
        candidates.push(format!("{joined}.{ext}"));
    }
    // `./x.js` written for `x.ts` (and `.jsx` for `.tsx`, `.mjs` for `.mts`, `.cjs` for `.cts`).
    for (js, ts) in
        [(".js", &[".ts", ".tsx"][..]), (".jsx", &[".tsx"][..]), (".mjs", &[".mts"][..]), (".cjs", &[".cts"][..])]
    {
        if let Some(stem) = joined.strip_suffix(js) {
            candidates.extend(ts.iter().map(|t| format!("{stem}{t}")));
        }
    }
    for ext in EXTENSIONS {
        candidates.push(format!("{joined}/index.{ext}"));
    }
    candidates.into_iter().find(|c| exists(c))
}

fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(from: &str, specifier: &str, files: &[&str]) -> Option<String> {
        resolve_import(from, specifier, &|p| files.contains(&p))
    }

    #[test]
    fn relative_imports_find_their_files() {
        let files = ["src/x.ts", "src/ui/button.tsx", "src/lib/index.ts", "src/esm.ts", "util.js", "src/types.d.ts"];
        assert_eq!(check("src/a.ts", "./x", &files).as_deref(), Some("src/x.ts"));
        assert_eq!(check("src/a.ts", "./ui/button", &files).as_deref(), Some("src/ui/button.tsx"));
        assert_eq!(check("src/a.ts", "./lib", &files).as_deref(), Some("src/lib/index.ts"));
        assert_eq!(check("src/a.ts", "./esm.js", &files).as_deref(), Some("src/esm.ts"));
        assert_eq!(check("src/deep/b.ts", "../../util.js", &files).as_deref(), Some("util.js"));
        assert_eq!(check("src/a.ts", "./types", &files).as_deref(), Some("src/types.d.ts"));
        assert_eq!(check("src/a.ts", "react", &files), None);
        assert_eq!(check("a.ts", "../../outside", &files), None);
        assert_eq!(check("src/a.ts", "./missing", &files), None);
    }
}
