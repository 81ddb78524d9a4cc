//! The test-output parsers (TAP, node's spec reporter, Jest, Vitest, tsc) never panic on any output, and
//! the files they name are workspace paths (proptest).

use proptest::prelude::*;
use samokoder_sandbox::{Location, parse_test_output};

/// Output-like text: the lines each format's parser keys on, mixed with noise and odd bytes.
fn output_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("TAP version 13".to_owned()),
        Just("not ok 1 - adds".to_owned()),
        Just("ok 2 - subtracts".to_owned()),
        Just("  ---".to_owned()),
        Just("  ...".to_owned()),
        Just("  location: '/workspace/test/a.test.js:5:1'".to_owned()),
        Just("  error: |-".to_owned()),
        Just("# pass 1".to_owned()),
        Just("# fail 99999999999999999999".to_owned()),
        Just("✖ adds (3ms)".to_owned()),
        Just(" FAIL  test/a.test.js".to_owned()),
        Just("  ● suite › adds".to_owned()),
        Just("Tests:       1 failed, 2 passed, 3 total".to_owned()),
        Just(" × adds 5ms".to_owned()),
        Just(" Test Files  1 failed (1)".to_owned()),
        Just("src/a.ts(3,7): error TS2322: Type 'string' is not assignable".to_owned()),
        Just("    at Object.<anonymous> (/workspace/test/a.test.js:9:3)".to_owned()),
        "[ \t\u{a0}]{0,2}[a-z0-9:()/.#✓×●›\\-]{0,16}",
    ];
    prop::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #[test]
    fn test_output_parsers_never_panic(output in prop_oneof![output_like(), any::<String>()], cwd in "(|web|a/b)") {
        let report = parse_test_output(&output, Location { root: "/workspace", cwd: &cwd });
        // Recognised exactly when some format was found; a location is a workspace path, never the container's.
        prop_assert_eq!(report.recognized, !report.formats.is_empty());
        for failure in &report.failures {
            prop_assert!(!failure.file.as_deref().unwrap_or("").starts_with("/workspace/"), "{failure:?}");
        }
    }
}
