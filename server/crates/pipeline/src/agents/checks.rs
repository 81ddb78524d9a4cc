//! Checks that follow every write, whatever the model thinks of them, in the warm sandbox and in one command:
//! the runtime's own syntax check of each touched JavaScript file (`node --check`), the link of each touched
//! ES module (its imports resolved against what their modules export, nothing run: link_check.mjs), and for
//! a TypeScript project (a `tsconfig.json` and TypeScript installed in its `node_modules`) the type check,
//! `tsc --noEmit`. tree-sitter's grammar accepts code Node refuses (`this.compare = compare || (a, b) =>
//! a - b;` parses, and fails at load with "Malformed arrow function parameter list"), so our own parse is
//! not enough. Only errors a write introduced count: the same check runs before it, and an error that was
//! already there is not its fault. A type error is compared without its position (lines move when code is
//! added above it), and "cannot find module './x'" is left out: a later step of the same task writes `x`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use samokoder_sandbox::{Location, RunRequest, parse_test_output};

use super::{in_project, read_file};
use crate::RunContext;

const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
const MARK: &str = "==samokoder-check== ";
/// The container's path of the workspace, as tools print it.
const WORKDIR: &str = "/workspace";
/// The link check's script: ES modules linked, never evaluated.
const LINK_CHECK: &str = include_str!("link_check.mjs");
/// Type errors kept per file: the first few are what the writer can act on.
const PER_FILE: usize = 8;

/// What the checks found: file -> its errors (files without errors are absent).
pub(crate) type Problems = BTreeMap<String, Vec<Problem>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The error without its position (`TS2322: Type 'string' is not ...`, or Node's whole message).
    pub what: String,
    pub line: Option<u32>,
}

impl Problem {
    /// The error's own words: without the `TSnnnn: ` code, and of Node's message its last line.
    pub fn message(&self) -> &str {
        let message =
            self.what.split_once(": ").filter(|(code, _)| code.starts_with("TS")).map_or(&*self.what, |(_, m)| m);
        message.lines().last().unwrap_or_default().trim()
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// Which checks a write of `paths` (workspace-relative) calls for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Checks {
    /// JavaScript files for `node --check`.
    pub node: Vec<String>,
    /// The project's package.json: its `"type"` says whether a `.js` file is an ES module, for the link
    /// check (read when the check runs: the write may be what creates it).
    pub package: String,
    /// The project directory to type-check (`""` for the workspace root), when TypeScript was touched.
    pub tsc: Option<String>,
}

impl Checks {
    pub fn for_write(ctx: &RunContext, paths: &[String], subdir: Option<&str>) -> Self {
        let node =
            paths.iter().filter(|p| [".js", ".mjs", ".cjs"].iter().any(|ext| p.ends_with(ext))).cloned().collect();
        let package = in_project(subdir, "package.json");
        let typescript = paths.iter().any(|p| [".ts", ".tsx", ".mts", ".cts"].iter().any(|ext| p.ends_with(ext)));
        let tsc = (typescript && read_file(ctx, &in_project(subdir, "tsconfig.json")).is_some())
            .then(|| subdir.unwrap_or_default().to_owned());
        Self { node, package, tsc }
    }

    /// Both checks in one sandbox command, against the files as the user holds them now.
    pub async fn run(&self, ctx: &RunContext) -> Result<Problems> {
        let node: Vec<&String> = self.node.iter().filter(|f| read_file(ctx, f).is_some()).collect();
        let mut command = String::new();
        if !node.is_empty() {
            let quoted: Vec<String> = node.iter().map(|f| quote(f)).collect();
            command += &format!(
                "for f in {}; do echo \"{MARK}$f\"; node --check \"$f\" 2>&1 || echo \"{MARK}failed\"; done; ",
                quoted.join(" ")
            );
        }
        let module_type = read_file(ctx, &self.package)
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|package| package["type"] == "module");
        let modules: Vec<String> = node
            .iter()
            .filter(|f| f.ends_with(".mjs") || (module_type && f.ends_with(".js")))
            .map(|f| quote(f))
            .collect();
        if !modules.is_empty() {
            command += &format!(
                "node --experimental-vm-modules --no-warnings --input-type=module -e {} {} {}; ",
                quote(LINK_CHECK),
                quote(MARK),
                modules.join(" ")
            );
        }
        if let Some(dir) = &self.tsc {
            // TypeScript is installed in the container's node_modules (never synced from the host): no
            // compiler there, no type check.
            let tsc = quote(&in_project((!dir.is_empty()).then_some(dir), "node_modules/typescript/bin/tsc"));
            let project = quote(if dir.is_empty() { "." } else { dir });
            command += &format!(
                "if [ -f {tsc} ]; then echo \"{MARK}tsc\"; node {tsc} --noEmit --pretty false -p {project} 2>&1; \
                 echo \"{MARK}tsc-end\"; fi"
            );
        }
        if command.is_empty() {
            return Ok(Problems::new());
        }
        let overlay = ctx.frontend.overlay();
        let mut request = RunRequest::new(ctx.jail.root(), &overlay, &command, CHECK_TIMEOUT);
        request.run_id = Some(&ctx.id.0);
        let result = ctx.sandbox.run(request, &|_| {}).await?;
        Ok(parse(&result.output))
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The check's output: Node's message per failing file, then tsc's errors per file.
fn parse(output: &str) -> Problems {
    let mut problems = Problems::new();
    let (node, tsc) = match output.split_once(&format!("{MARK}tsc\n")) {
        Some((node, rest)) => (node, rest.split(&format!("{MARK}tsc-end")).next()),
        None => (output, None),
    };
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in node.lines() {
        match line.strip_prefix(MARK) {
            Some("failed") => {
                if let Some((file, lines)) = current.take() {
                    let message: Vec<&str> = lines.into_iter().filter(|l| !l.trim().is_empty()).collect();
                    problems.entry(file).or_default().push(Problem { what: message.join("\n"), line: None });
                }
            }
            Some(file) => current = Some((file.to_owned(), Vec::new())),
            None => {
                if let Some((_, lines)) = &mut current {
                    lines.push(line);
                }
            }
        }
    }
    let report = parse_test_output(tsc.unwrap_or_default(), Location { root: WORKDIR, cwd: "" });
    for failure in report.failures.into_iter().filter(|f| f.name.starts_with("TS")) {
        let Some(file) = failure.file else { continue };
        let relative_module = failure.message.contains("'./") || failure.message.contains("'../");
        if failure.name == "TS2307" && relative_module {
            continue;
        }
        let errors = problems.entry(file).or_default();
        if errors.len() < PER_FILE {
            errors.push(Problem { what: format!("{}: {}", failure.name, failure.message), line: failure.line });
        }
    }
    problems
}

/// Per file, the errors in `after` that `before` did not have (compared without their position).
pub(crate) fn introduced(before: &Problems, after: &Problems) -> Vec<(String, String)> {
    after
        .iter()
        .filter_map(|(file, errors)| {
            let old: BTreeSet<&str> = before.get(file).into_iter().flatten().map(|p| p.what.as_str()).collect();
            let new: Vec<String> =
                errors.iter().filter(|p| !old.contains(p.what.as_str())).map(|p| p.to_string()).collect();
            (!new.is_empty()).then(|| (file.clone(), new.join("\n")))
        })
        .collect()
}

/// The failing check named to the model, about `subject` ("it", "the code").
pub(crate) fn refusal(broken: &[(String, String)], subject: &str) -> String {
    if broken.iter().all(|(_, error)| error.lines().all(|l| l.contains(": TS"))) {
        format!("TypeScript's type check (tsc --noEmit) reports errors in {subject}")
    } else {
        format!("Node refuses to load {subject}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failing_files_and_only_new_errors_count() {
        let output = format!(
            "{MARK}src/a.js\n{MARK}src/b.js\n/workspace/src/b.js:1\nthis.f = f || (a, b) => a - b;\n          ^^^^^^\n\nSyntaxError: Malformed arrow function parameter list\n{MARK}failed\n"
        );
        let after = parse(&output);
        assert_eq!(after.keys().collect::<Vec<_>>(), ["src/b.js"]);
        assert!(after["src/b.js"][0].what.contains("SyntaxError: Malformed arrow function parameter list"));
        assert_eq!(introduced(&Problems::new(), &after).len(), 1);
        assert!(introduced(&after, &after).is_empty(), "an error that was there before is not the write's");
    }

    #[test]
    fn the_link_check_reports_an_import_its_module_does_not_export_and_skips_what_it_cannot_read() {
        // The script as the sandbox runs it, on the host's Node (the CI machine has it; the sandbox image is
        // built from it).
        let dir = tempfile::tempdir().unwrap();
        let files = [
            ("src/sum.js", "export function sum(a, b) {\n  return a + b;\n}\nconsole.log('EVALUATED');\n"),
            (
                "test/bad.test.js",
                "import { assert } from 'node:assert/strict';\nimport { sum } from '../src/sum.js';\n",
            ),
            ("test/missing.test.js", "import { nope } from '../src/later.js';\n"),
            ("test/package.test.js", "import { pad } from 'left-pad-not-installed';\n"),
            ("test/good.test.js", "import assert from 'node:assert/strict';\nimport { sum } from '../src/sum.js';\n"),
            ("test/wrong.test.js", "import { add } from '../src/sum.js';\n"),
        ];
        for (path, text) in files {
            std::fs::create_dir_all(dir.path().join(path).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(path), text).unwrap();
        }
        let out = std::process::Command::new("node")
            .args(["--experimental-vm-modules", "--no-warnings", "--input-type=module", "-e", LINK_CHECK, MARK])
            .args(files.iter().map(|(p, _)| *p))
            .current_dir(dir.path())
            .output()
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("EVALUATED"), "nothing is run: {stdout}");
        let problems = parse(&stdout);
        assert_eq!(problems.keys().collect::<Vec<_>>(), ["test/bad.test.js", "test/wrong.test.js"], "{stdout}");
        assert_eq!(
            problems["test/bad.test.js"][0].message(),
            "SyntaxError: The requested module 'node:assert/strict' does not provide an export named 'assert'"
        );
        assert!(problems["test/wrong.test.js"][0].what.contains("does not provide an export named 'add'"));
    }

    #[test]
    fn type_errors_count_without_their_position_and_later_modules_are_not_errors() {
        let before = parse(&format!(
            "{MARK}tsc\nsrc/old.ts(3,5): error TS2322: Type 'number' is not assignable to type 'string'.\n{MARK}tsc-end\n"
        ));
        let after = parse(&format!(
            "{MARK}src/x.js\n{MARK}tsc\n\
             src/old.ts(9,5): error TS2322: Type 'number' is not assignable to type 'string'.\n\
             src/App.tsx(1,18): error TS2307: Cannot find module './List' or its corresponding type declarations.\n\
             src/App.tsx(4,7): error TS2339: Property 'lenght' does not exist on type 'string[]'.\n\
             src/App.tsx(5,1): error TS2307: Cannot find module 'left-pad' or its corresponding type declarations.\n\
             {MARK}tsc-end\n"
        ));
        let new = introduced(&before, &after);
        assert_eq!(new.len(), 1, "{new:?}");
        assert_eq!(new[0].0, "src/App.tsx");
        assert_eq!(
            new[0].1,
            "line 4: TS2339: Property 'lenght' does not exist on type 'string[]'.\n\
             line 5: TS2307: Cannot find module 'left-pad' or its corresponding type declarations."
        );
        assert_eq!(refusal(&new, "it"), "TypeScript's type check (tsc --noEmit) reports errors in it");
        assert!(parse(&format!("{MARK}tsc\n{MARK}tsc-end\n")).is_empty(), "a clean type check");
    }
}
