//! Prompt-lookup decoding: decode tokens per second with guessing off and on, in the same run, on three
//! replies a coding agent writes: a whole-file rewrite of a 150-line file that changes 3 lines, the same
//! change as SEARCH/REPLACE blocks, and a fresh module (nothing to copy). Greedy; each reply is checked to
//! be the same with guessing on and off. Guessing on is measured twice: as the engine does it by default
//! (it stops guessing for a while when guess steps cost more per token than plain ones) and with every
//! guess read (`draft_always`, the raw rate of reading guesses on this machine). Qwen2.5-Coder 1.5B and
//! 0.5B when fetched; `--model PATH` adds any GGUF.
//!
//! Run: `cargo bench -p samokoder-llm --features local-llm --bench lookup`.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

mod common;

use samokoder_llm::{ChatRequest, Local, LocalConfig, Message};

/// A 150-line module: a small inventory with validation, in the style the agents write.
fn module() -> String {
    let mut out = String::from("// Inventory: items with counts, prices and a history of changes.\n\n");
    for i in 0..15 {
        out.push_str(&format!(
            "export function item{i}(store, name, count) {{\n  if (typeof name !== 'string' || name.length === 0) {{\n    throw new TypeError('item{i}: name must be a non-empty string');\n  }}\n  if (!Number.isInteger(count) || count < 0) {{\n    throw new RangeError('item{i}: count must be a whole number');\n  }}\n  const before = store.get(name) ?? 0;\n  store.set(name, before + count * {});\n  return store.get(name);\n}}\n\n",
            i + 1
        ));
    }
    out
}

const CHANGE: &str = "Change item3, item7 and item11 so that a count of 0 throws a RangeError too (the check becomes `count <= 0`), and change nothing else.";

fn requests(module: &str) -> Vec<(&'static str, ChatRequest, u32)> {
    let system = "You are the code writer of a small JavaScript project. Use ES modules. Answer in the form asked, and nothing else.";
    let ask = |user: String, max_tokens: u32| ChatRequest {
        messages: vec![Message::system(system), Message::user(user)],
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        ..Default::default()
    };
    vec![
        (
            "whole-file rewrite (3 lines of 150 change)",
            ask(format!("src/inventory.js holds:\n\n```js\n{module}```\n\n{CHANGE} Reply with the whole new file in one fenced block."), 2600),
            2600,
        ),
        (
            "SEARCH/REPLACE blocks for the same change",
            ask(format!("src/inventory.js holds:\n\n```js\n{module}```\n\n{CHANGE} Reply with one SEARCH/REPLACE block per change:\n\nsrc/inventory.js\n<<<<<<< SEARCH\n(lines copied exactly from the file)\n=======\n(the lines as they should be)\n>>>>>>> REPLACE"), 600),
            600,
        ),
        (
            "a fresh module",
            ask("Write src/calendar.js: functions daysInMonth(year, month), isLeapYear(year) and weekday(date) with JSDoc comments, in one fenced block.".into(), 400),
            400,
        ),
    ]
}

fn main() {
    let module = module();
    let requests = requests(&module);
    println!(
        "{} threads; greedy; each reply by a fresh provider: guessing off (draft 0), on as by default (draft 16, judged), on always",
        common::threads()
    );
    for (label, path) in common::models() {
        if !path.is_file() {
            println!("{label}: not fetched (samokoder model fetch / scripts/fetch-model.sh)");
            continue;
        }
        println!("\n{label}");
        println!(
            "| reply | tokens | off: decode tok/s | default: tok/s | default / off | always: tok/s | always / off | always: guesses kept | same reply |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        let with = |draft_max: usize, always: bool| {
            let mut config: LocalConfig = common::config(&path, 1);
            config.draft_max = draft_max;
            config.draft_always = always;
            config
        };
        let warm = ChatRequest { messages: vec![Message::user("Say hi.")], max_tokens: Some(4), ..Default::default() };
        Local::new(with(0, false)).unwrap().generate_timed(&warm).unwrap();
        for (what, request, _) in &requests {
            let run = |draft_max, always| {
                let local = Local::new(with(draft_max, always)).unwrap();
                let (completion, timing) = local.generate_timed(request).unwrap();
                let rate = f64::from(timing.completion_tokens) / timing.decode.as_secs_f64().max(1e-9);
                (completion.text, timing.completion_tokens, rate, local.guessed_tokens())
            };
            let (off_text, tokens, off_rate, _) = run(0, false);
            let (on_text, _, on_rate, _) = run(16, false);
            let (always_text, _, always_rate, (guessed, kept)) = run(16, true);
            let same = on_text == off_text && always_text == off_text;
            println!(
                "| {what} | {tokens} | {off_rate:.1} | {on_rate:.1} | {:.2}x | {always_rate:.1} | {:.2}x | {kept} of {guessed} | {} |",
                on_rate / off_rate,
                always_rate / off_rate,
                if same { "yes" } else { "NO" }
            );
        }
    }
}
