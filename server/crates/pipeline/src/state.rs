//! What a run has committed, typed: the spec, the architecture, the plan's tasks and each task's progress,
//! the questions and their answers. Each is its own record in the store (`RecordKind`), written by the agent
//! that produced it before the next agent starts; [`RunState::load`] reads them back, and the orchestrator
//! decides the next agent from them alone, so a run killed at any point goes on from its last commit.

use anyhow::{Context, Result};
use samokoder_store::{FileTouch, RecordKind, Store, all_typed, get_typed, put_typed};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How much a request asks for. A simple one gets one task and no model calls whose answer is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    Simple,
    Moderate,
    Hard,
}

impl Complexity {
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Simple => "simple",
            Complexity::Moderate => "moderate",
            Complexity::Hard => "hard",
        }
    }
}

/// A clarifying question, with answers the user can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QuestionDraft {
    pub question: String,
    pub suggestions: Vec<String>,
}

/// The spec writer's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SpecReply {
    pub complexity: Complexity,
    /// What is being built, in two or three sentences.
    pub summary: String,
    /// What the result does, one item per feature.
    pub features: Vec<String>,
    /// What was decided without asking.
    pub assumptions: Vec<String>,
    /// At most five, and only where the answer changes what gets built.
    #[schemars(length(max = 5))]
    pub questions: Vec<QuestionDraft>,
    /// The input/output examples the request itself states, each quoting its words; none when it states
    /// none (never invented: one whose quote is not in the request is dropped).
    #[serde(default)]
    #[schemars(length(max = 6))]
    pub examples: Vec<ExampleDraft>,
}

/// An example the request states, as the spec writer read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExampleDraft {
    /// The request's own words that state it, copied exactly.
    pub quote: String,
    /// The call, in JavaScript with literal arguments: `toRoman(4)`.
    pub call: String,
    /// What it gives, as a JavaScript literal (`'IV'`), or `throws RangeError`.
    pub result: String,
}

/// A question the spec writer asked, and what the user answered (`None`: not answered yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub question: String,
    pub suggestions: Vec<String>,
    pub answer: Option<String>,
}

/// The committed spec (record `spec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub description: String,
    pub complexity: Complexity,
    pub summary: String,
    pub features: Vec<String>,
    pub assumptions: Vec<String>,
    /// Questions asked and their answers.
    pub decisions: Vec<(String, String)>,
    /// The examples the run is held to, as sentences (`toRoman(4)` should be 'IV' (the description, line
    /// 1)): the checks of the oracle, listed so the user can correct them.
    #[serde(default)]
    pub examples: Vec<String>,
}

impl Spec {
    pub fn from_reply(description: &str, reply: SpecReply, decisions: Vec<(String, String)>) -> Self {
        Self {
            description: description.to_owned(),
            complexity: reply.complexity,
            summary: reply.summary.trim().to_owned(),
            features: clean(reply.features),
            assumptions: clean(reply.assumptions),
            decisions,
            examples: Vec::new(),
        }
    }

    /// `.samokoder/spec.md`.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Spec\n\n> {}\n\n{}\n\nComplexity: {}.\n",
            self.description.trim(),
            self.summary,
            self.complexity.as_str()
        );
        section(&mut out, "Features", &self.features);
        section(&mut out, "Examples (each is checked against the code)", &self.examples);
        if !self.decisions.is_empty() {
            let lines: Vec<String> = self.decisions.iter().map(|(q, a)| format!("{q} **{a}**")).collect();
            section(&mut out, "Decisions", &lines);
        }
        section(&mut out, "Assumptions", &self.assumptions);
        out
    }
}

/// The architect's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ArchitectureReply {
    /// One of the templates offered, by name.
    pub template: String,
    pub why: String,
    /// npm packages beyond the template's.
    pub packages: Vec<String>,
    /// What the system must have (a database, a service); empty when nothing.
    pub system_needs: Vec<String>,
    /// The template's options, where the default does not fit.
    #[serde(default)]
    pub options: Vec<OptionChoice>,
}

/// One option of the chosen template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OptionChoice {
    pub option: String,
    pub value: String,
}

/// The committed architecture (record `architecture`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    pub template: String,
    pub why: String,
    pub packages: Vec<String>,
    pub system_needs: Vec<String>,
    /// The template's options, every one (the defaults filled in).
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
    /// The template's files were applied (or it has none).
    #[serde(default)]
    pub scaffolded: bool,
}

impl Architecture {
    /// `.samokoder/architecture.md`.
    pub fn markdown(&self, template_description: &str, template_summary: &str) -> String {
        let mut out = format!(
            "# Architecture\n\nTemplate: **{}** ({template_description}).\n\n{}\n",
            self.template,
            self.why.trim()
        );
        if !template_summary.trim().is_empty() {
            out.push_str(&format!("\n## The template\n\n{}\n", template_summary.trim()));
        }
        let options: Vec<String> = self.options.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        section(&mut out, "Options", &options);
        section(&mut out, "Packages", &self.packages);
        section(&mut out, "System needs", &self.system_needs);
        out
    }
}

/// The tech lead's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanReply {
    pub epics: Vec<EpicDraft>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EpicDraft {
    pub name: String,
    pub tasks: Vec<TaskDraft>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskDraft {
    /// What to do, in one line.
    pub title: String,
    /// The details a developer needs.
    pub description: String,
    /// How the result will be tested.
    pub test: String,
}

/// One task of the plan, as plan.md holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTask {
    /// Stable across edits of plan.md (`<!-- id:t3 -->` on its line); `None` for a task the user added.
    pub id: Option<String>,
    pub epic: String,
    pub title: String,
    pub description: String,
    pub test: String,
    pub done: bool,
    /// 1-based line of its checkbox in plan.md.
    pub line: usize,
}

impl PlanTask {
    /// What the developer plans from: a task reworded after its steps were planned is planned again.
    pub fn basis(&self) -> String {
        format!("{}\n{}\n{}", self.title, self.description, self.test)
    }
}

/// The developer's reply for one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeveloperReply {
    pub steps: Vec<DevStep>,
}

/// One step of a task: files written together (in parallel, applied as one change), then commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DevStep {
    pub description: String,
    pub files: Vec<FileInstruction>,
    /// Shell commands to run in the sandbox after the files are written (no network); usually none.
    #[serde(default)]
    pub commands: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileInstruction {
    /// Relative to the project root.
    pub path: String,
    /// What the file must contain: its exports with their signatures, and what they do.
    pub instruction: String,
}

/// How a task's tests ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOutcome {
    pub passed: bool,
    pub summary: String,
    /// `path:line: name: message` of each failure.
    pub failures: Vec<String>,
    /// Tests that failed and passed (the failed count decides whether a fix made things worse).
    #[serde(default)]
    pub failed: u32,
    #[serde(default)]
    pub passed_count: u32,
    /// Of `failed`, the examples the user stated (they outrank the tests when a fix is judged).
    #[serde(default)]
    pub stated_failed: u32,
    /// The end of the test command's output, for the troubleshooter.
    #[serde(default)]
    pub output: String,
}

impl TaskOutcome {
    /// What identifies a failure set: the failures, sorted (the same set twice in a row is the same failure).
    pub fn signature(&self) -> String {
        let mut failures = self.failures.clone();
        failures.sort();
        if failures.is_empty() { self.summary.clone() } else { failures.join("\n") }
    }
}

/// One iteration of the fix loop on a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    /// The run's step that applied it (for undo); `None` when no edit of the reply could be applied.
    pub step: Option<u32>,
    /// The outcome it tried to fix.
    pub before: TaskOutcome,
    /// The link of the troubleshooter's chain that wrote it.
    pub tier: usize,
    /// Undone because it made more stated examples or tests fail.
    #[serde(default)]
    pub undone: bool,
}

/// The progress of one task (record `tasks/<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskProgress {
    pub id: String,
    /// [`PlanTask::basis`] when its steps were planned.
    pub basis: String,
    /// `None` until the developer planned the task. A step without files writes the whole task in one call
    /// (a simple request).
    pub steps: Option<Vec<DevStep>>,
    /// Steps applied so far.
    pub applied: usize,
    /// The files of the step being applied, before it (committed before the change goes out, so a run killed
    /// mid-apply still knows what to undo to).
    pub applying: Option<Vec<FileTouch>>,
    pub outcome: Option<TaskOutcome>,
    /// The fix loop's iterations on this task.
    #[serde(default)]
    pub fixes: Vec<Fix>,
    /// The link of the troubleshooter's chain the next fix uses (raised when the same failure comes back).
    #[serde(default)]
    pub tier: usize,
    /// The user's hint for the next fix.
    #[serde(default)]
    pub hint: Option<String>,
    /// The user chose to skip the task after the loop gave up.
    #[serde(default)]
    pub skipped: bool,
    /// The fix loop stopped on this task, and why.
    #[serde(default)]
    pub stopped: Option<String>,
    /// How many fixes there were when the user last answered (the same-failure rule starts over there).
    #[serde(default)]
    pub asked_at: usize,
    /// A project without tests is fine for this task (an implement or fix run in a project that has none).
    #[serde(default)]
    pub no_tests_ok: bool,
    /// A fix run's diagnostic was made the failure to fix.
    #[serde(default)]
    pub seeded: bool,
    /// The seeded diagnostic was looked for after the fix (with the checks that can see it) and is gone.
    #[serde(default)]
    pub verified: bool,
    /// The same failure came back and no stronger model was left: one more try sampled hotter, before the
    /// user is asked.
    #[serde(default)]
    pub heated: bool,
    /// The tests passed and the cases the comments name were given tests of their own (or there were none to
    /// give): `agents/case_tests.rs`, once per run.
    #[serde(default)]
    pub cases_checked: bool,
    /// The step that wrote the case tests, the outcome before it (the tests passing) and the fixes there were
    /// then: when the loop stops with them failing, the run goes back to that step.
    #[serde(default)]
    pub cases_written: Option<(u32, TaskOutcome, usize)>,
    /// The case tests failed, the loop could not fix them, and they were undone with its fixes: why.
    #[serde(default)]
    pub cases_undone: Option<String>,
    /// The best candidates disagreed on some call and nothing stated settled it: the cases the comments
    /// state get tests of their own (otherwise they are not asked for when the code meets everything stated).
    #[serde(default)]
    pub disputed: bool,
    /// Only tests the run wrote failed, and other versions of the module weighed them (`agents/arbiter.rs`):
    /// once per task.
    #[serde(default)]
    pub arbitrated: bool,
}

impl TaskProgress {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            basis: String::new(),
            steps: None,
            applied: 0,
            applying: None,
            outcome: None,
            fixes: Vec::new(),
            tier: 0,
            hint: None,
            skipped: false,
            stopped: None,
            asked_at: 0,
            no_tests_ok: false,
            seeded: false,
            verified: false,
            cases_checked: false,
            cases_written: None,
            cases_undone: None,
            heated: false,
            disputed: false,
            arbitrated: false,
        }
    }
}

/// A file a code writer produced, kept until its step is applied (record `drafts/<task>/<step>/<path>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub path: String,
    pub content: String,
}

/// Everything committed for a run.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    pub spec: Option<Spec>,
    pub architecture: Option<Architecture>,
    /// The plan as the tech lead committed it (plan.md is what the run follows; this is the fallback when
    /// the file is gone).
    pub planned: Vec<PlanTask>,
    pub tasks: Vec<TaskProgress>,
    pub questions: Vec<Question>,
}

impl RunState {
    pub fn load(store: &dyn Store, run: &str) -> Result<Self> {
        let context = || format!("reading the state of run {run}");
        Ok(Self {
            spec: get_typed(store, RecordKind::Spec, run, "spec").with_context(context)?,
            architecture: get_typed(store, RecordKind::Architecture, run, "architecture").with_context(context)?,
            planned: all_typed(store, RecordKind::PlanItem, run)
                .with_context(context)?
                .into_iter()
                .map(|(_, t)| t)
                .collect(),
            tasks: all_typed(store, RecordKind::Task, run).with_context(context)?.into_iter().map(|(_, t)| t).collect(),
            questions: all_typed(store, RecordKind::Question, run)
                .with_context(context)?
                .into_iter()
                .map(|(_, q)| q)
                .collect(),
        })
    }

    pub fn task(&self, id: &str) -> Option<&TaskProgress> {
        self.tasks.iter().find(|t| t.id == id)
    }
}

pub fn save_task(store: &dyn Store, run: &str, task: &TaskProgress) -> Result<()> {
    put_typed(store, RecordKind::Task, run, &task.id, task).context("committing the task's progress")
}

/// A draft's key: `<task>/<step:03>/<path>`.
pub fn draft_key(task: &str, step: usize, path: &str) -> String {
    format!("{task}/{step:03}/{path}")
}

fn clean(items: Vec<String>) -> Vec<String> {
    items.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

fn section(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str(&format!("\n## {title}\n\n"));
    for item in items {
        out.push_str(&format!("- {item}\n"));
    }
}
