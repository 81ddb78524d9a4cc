//! Templates as data: a template and options -> the files it writes and a few lines in them; and every way a
//! template can be wrong, each with an error that names the template and the field.

use std::collections::BTreeMap;

use samokoder_prompts::{ProjectVars, Template, template, template_names};

fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn project() -> ProjectVars {
    ProjectVars::new("Todo App!", "A \"todo\" list")
}

/// (template, options, files that must be there, files that must not, (file, a line it must hold)).
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

const CASES: &[Case] = &[
    ("node", &[], &[], &["package.json"], &[]),
    (
        "vite-react",
        &[],
        &["package.json", "index.html", "src/App.tsx", "src/App.test.tsx", "vite.config.ts", "tsconfig.json"],
        &[],
        &[
            ("package.json", r#"  "name": "todo-app","#),
            ("package.json", r#"  "description": "A \"todo\" list","#),
            ("index.html", "    <title>Todo App</title>"),
            ("src/App.tsx", "      <h1>Todo App</h1>"),
            ("vite.config.ts", "    environment: 'jsdom',"),
        ],
    ),
    (
        "node-express-mongoose",
        &[],
        &[
            "src/app.js",
            "src/repository/memory.js",
            "src/repository/mongoose.js",
            "src/models/item.js",
            "test/app.test.js",
        ],
        &[],
        &[
            ("package.json", r#"    "mongoose": "^8.9.0""#),
            ("src/server.js", "  console.log(`todo-app listening on http://localhost:${port}`);"),
        ],
    ),
    (
        "react-express",
        &[],
        &["server/app.js", "server/repository/memory.js", "src/App.tsx", "server/test/app.test.js"],
        &["server/auth.js", "server/repository/mongoose.js", "server/models/item.js", "server/test/auth.test.js"],
        &[("server/index.js", "const repository = memoryRepository();")],
    ),
    (
        "react-express",
        &[("database", "mongoose"), ("auth", "yes")],
        &[
            "server/auth.js",
            "server/repository/mongoose.js",
            "server/models/item.js",
            "server/models/user.js",
            "server/test/auth.test.js",
            "server/test/models.test.js",
        ],
        &[],
        &[
            ("package.json", r#"    "mongoose": "^8.9.0","#),
            ("server/app.js", "import { authRoutes, requireUser } from './auth.js';"),
            (
                "src/api.ts",
                "export async function signIn(email: string, password: string, register = false): Promise<void> {",
            ),
        ],
    ),
    (
        "react-express",
        &[("auth", "yes")],
        &["server/auth.js"],
        &["server/models/user.js", "server/repository/mongoose.js"],
        &[("server/repository/memory.js", "    users: {")],
    ),
];

#[test]
fn templates_render_the_files_their_options_call_for() {
    for (name, opts, present, absent, lines) in CASES {
        let files = template(name).unwrap().render(&project(), &options(opts)).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        for p in *present {
            assert!(paths.contains(p), "{name} {opts:?}: {p} missing from {paths:?}");
        }
        for p in *absent {
            assert!(!paths.contains(p), "{name} {opts:?}: {p} should not be written");
        }
        for (path, line) in *lines {
            let text = files.iter().find(|f| f.path == *path).and_then(|f| f.text()).unwrap();
            assert!(text.lines().any(|l| l == *line), "{name} {opts:?}: {path} lacks `{line}`:\n{text}");
        }
    }
}

#[test]
fn every_option_combination_of_every_template_renders_whole_files() {
    for name in template_names() {
        let t = template(name).unwrap();
        let mut combos = vec![BTreeMap::new()];
        for (option, spec) in &t.options {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    spec.values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.insert(option.clone(), v.clone());
                        c
                    })
                })
                .collect();
        }
        for combo in combos {
            for file in t.render(&project(), &combo).unwrap() {
                let text = file.text().unwrap();
                assert!(
                    !text.contains("{{") && !text.contains("{%"),
                    "{name} {combo:?}: {} keeps template syntax",
                    file.path
                );
                assert!(text.ends_with('\n'), "{name}: {} lost its last newline", file.path);
                if file.path.ends_with(".json") {
                    serde_json::from_str::<serde_json::Value>(text)
                        .unwrap_or_else(|e| panic!("{name} {combo:?}: {} is not JSON: {e}\n{text}", file.path));
                }
            }
        }
        assert!(!t.summary.trim().is_empty() || name == "node", "{name} tells the agents what it holds");
    }
}

#[test]
fn keywords_are_whole_words_in_any_case() {
    let vite = template("vite-react").unwrap();
    assert!(vite.named_in("A React counter page"));
    assert!(vite.named_in("a single-page app"));
    assert!(!vite.named_in("a function that builds a reactor model"), "react is not a prefix match");
    assert!(template("react-express").unwrap().named_in("a todo app with a client and server"));
    assert!(!template("node").unwrap().named_in("react"), "the plain template has no keywords");
}

#[test]
fn project_names_are_package_names() {
    assert_eq!(ProjectVars::new("My Cool_App 2", "").name, "my-cool-app-2");
    assert_eq!(ProjectVars::new("My Cool_App 2", "").title, "My Cool App 2");
    assert_eq!(ProjectVars::new("---", "").name, "app");
}

fn write_template(toml: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mine");
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::write(root.join("template.toml"), toml).unwrap();
    for (path, text) in files {
        let path = root.join("files").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    (dir, root)
}

const GOOD: &str = "name = \"mine\"\ndescription = \"d\"\nimage = \"node:22\"\ntest = \"node --test\"\n\n[options.where]\ndescription = \"w\"\nvalues = [\"src\", \"..\"]\ndefault = \"src\"\n";

#[test]
fn a_broken_template_is_named_with_its_field() {
    let cases: &[(&str, &str)] = &[
        ("name = \"mine\"\ndescription = \"d\"\nimage = \"node:22\"\n", "missing field `test`"),
        (
            "name = \"mine\"\ndescription = \"d\"\nimage = \"node:22\"\ntest = \"t\"\ncolour = \"red\"\n",
            "unknown field `colour`",
        ),
        ("name = \"mine\"\ndescription = \"d\"\nimage = \"\"\ntest = \"t\"\n", "`image` is empty"),
        ("name = \"mine\"\ndescription = \"d\nimage = 1\n", "template.toml: "),
        (
            "name = \"other\"\ndescription = \"d\"\nimage = \"i\"\ntest = \"t\"\n",
            "`name` is `other`, its folder `mine`",
        ),
        (
            "name = \"mine\"\ndescription = \"d\"\nimage = \"i\"\ntest = \"t\"\n[options.db]\ndescription = \"x\"\nvalues = [\"a\"]\ndefault = \"b\"\n",
            "option `db`: the default `b` is not one of its values (a)",
        ),
        (
            "name = \"mine\"\ndescription = \"d\"\nimage = \"i\"\ntest = \"t\"\n[when]\n\"x.js\" = \"true\"\n",
            "`when` names `x.js`",
        ),
    ];
    for (toml, expected) in cases {
        let (_dir, root) = write_template(toml, &[]);
        let err = Template::from_dir(&root).unwrap_err().to_string();
        assert!(err.contains("template `mine`") && err.contains(expected), "{err}\n(expected `{expected}`)");
    }
}

#[test]
fn unknown_options_and_values_are_refused_with_the_choices() {
    let (_dir, root) = write_template(GOOD, &[("{{ options.where }}/a.js", "export const a = 1;\n")]);
    let t = Template::from_dir(&root).unwrap();
    let err = t.render(&project(), &options(&[("colour", "red")])).unwrap_err().to_string();
    assert!(err.contains("template `mine`") && err.contains("no option `colour`; its options: where"), "{err}");
    let err = t.options(&options(&[("where", "lib")])).unwrap_err().to_string();
    assert!(err.contains("option `where` cannot be `lib`; choose one of: src, .."), "{err}");
    let err = template("node").unwrap().options(&options(&[("db", "x")])).unwrap_err().to_string();
    assert!(err.contains("template `node`") && err.contains("has no options"), "{err}");
    let err = template("no-such").unwrap_err().to_string();
    assert!(err.contains("no-such") && err.contains("vite-react"), "{err}");
}

#[test]
fn a_file_that_renders_outside_the_project_is_refused() {
    let (_dir, root) = write_template(GOOD, &[("{{ options.where }}/a.js", "export const a = 1;\n")]);
    let t = Template::from_dir(&root).unwrap();
    assert_eq!(t.render(&project(), &BTreeMap::new()).unwrap()[0].path, "src/a.js");
    let err = t.render(&project(), &options(&[("where", "..")])).unwrap_err().to_string();
    assert!(err.contains("template `mine`") && err.contains("`../a.js`, which is outside the project"), "{err}");
}

#[test]
fn a_file_that_is_not_text_is_copied_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mine");
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::write(root.join("template.toml"), GOOD).unwrap();
    let bytes = vec![0x89, b'P', b'N', b'G', 0xff, 0xfe, b'{', b'{'];
    std::fs::write(root.join("files/icon.png"), &bytes).unwrap();
    let files = Template::from_dir(&root).unwrap().render(&project(), &BTreeMap::new()).unwrap();
    assert_eq!(files[0].content, bytes);
    assert!(files[0].text().is_none());
}
