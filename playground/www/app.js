// The playground page: hands the pasted text to the detector (pkg/, built by
// playground/build.sh from the winrm-detect library) and shows what it says. Every verdict comes
// from the module; this file only draws. Pasted text is untrusted: it is only ever written with
// textContent, never parsed as HTML.

import init, { inspect, examples, about } from "./pkg/winrm_detect_playground.js";

const $ = (id) => document.getElementById(id);
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

function fillExamples() {
  const select = $("example");
  const groups = new Map();
  for (const ex of JSON.parse(examples())) {
    if (!groups.has(ex.file)) {
      groups.set(ex.file, el("optgroup", { label: ex.file }));
      select.append(groups.get(ex.file));
    }
    const option = el("option", { value: ex.text }, ex.label);
    groups.get(ex.file).append(option);
  }
}

function renderVerdict(id, verdict, report) {
  const card = $(id);
  const state = report.error || report.config_error ? "error"
    : verdict.matched ? "match" : verdict.suppressed ? "suppressed" : "no-match";
  card.dataset.state = state;
  card.querySelector(".badge").textContent =
    { error: "error", match: "match", suppressed: "suppressed", "no-match": "no match" }[state];
  card.querySelector(".reason").textContent = report.error || report.config_error ? "" : verdict.reason;
  const facts = card.querySelector(".facts");
  facts.replaceChildren();
  const a = verdict.annotation;
  if (!a) return;
  const fact = (name, ...value) => facts.append(el("dt", {}, name), el("dd", {}, ...value));
  fact("matcher", a.matcher);
  fact("rule", `${a.rule} · ${a.rule_name} · ${a.rule_id} v${a.rule_version}`);
  fact("risk", `${a.risk_object} (${a.risk_object_type}), score ${a.risk_score}`);
  if (a.techniques.length) {
    fact("techniques", ...a.techniques.map((t) => el("span", { class: "chip technique" }, t)));
  }
  if (a.remote_targets.length) {
    fact("remote targets", ...a.remote_targets.map((t) =>
      el("span", { class: t.loopback ? "chip target loopback" : "chip target" }, t.host + (t.loopback ? " (loopback)" : ""))));
  }
  fact("ATT&CK", a.mitre_technique_ids.join(", "));
}

// Evidence offsets are byte offsets into UTF-8 text; JavaScript strings count UTF-16 units,
// so the layer is cut as bytes and each piece decoded.
function highlightedLayer(layer, evidence) {
  const bytes = utf8.encode(layer.text);
  const spans = [];
  for (const e of evidence) {
    if (e.layer !== layer.name) continue;
    const start = e.offset, end = e.offset + utf8.encode(e.text).length;
    if (end > bytes.length || fromUtf8.decode(bytes.subarray(start, end)) !== e.text) continue;
    spans.push({ start, end, title: `${e.matcher}: ${e.kind}` });
  }
  spans.sort((x, y) => x.start - y.start || y.end - x.end);
  const pre = el("pre", { class: "layer", "data-layer": layer.name });
  let at = 0;
  for (const s of spans) {
    if (s.start < at) continue; // overlapping evidence: the earlier, longer span shows
    pre.append(fromUtf8.decode(bytes.subarray(at, s.start)));
    pre.append(el("mark", { title: s.title }, fromUtf8.decode(bytes.subarray(s.start, s.end))));
    at = s.end;
  }
  pre.append(fromUtf8.decode(bytes.subarray(at)));
  return el("figure", {}, el("figcaption", {}, layer.name), pre);
}

function renderEvidence(report) {
  const evidence = [];
  const seen = new Set();
  // In extended mode a parity match is reported as parity's annotation: shown once.
  for (const a of [report.parity.annotation, report.extended.annotation]) {
    for (const e of a?.evidence ?? []) {
      const key = `${e.layer}|${e.offset}|${e.kind}`;
      if (seen.has(key)) continue;
      seen.add(key);
      evidence.push({ ...e, matcher: a.matcher });
    }
  }
  $("evidence-panel").hidden = report.layers.length === 0;
  $("layers").replaceChildren(...report.layers.map((l) => highlightedLayer(l, evidence)));
  $("evidence").hidden = evidence.length === 0;
  $("evidence").tBodies[0].replaceChildren(...evidence.map((e) =>
    el("tr", {}, el("td", {}, e.matcher), el("td", {}, e.kind), el("td", {}, el("code", {}, e.text)),
      el("td", {}, e.layer), el("td", {}, e.offset))));
  $("opaque").replaceChildren(...report.opaque.map((o) => el("li", {}, `not looked into: ${o}`)));
}

function renderFields(report) {
  $("fields-panel").hidden = report.fields.length === 0;
  $("fields").tBodies[0].replaceChildren(...report.fields.map((f) =>
    el("tr", { "data-field": f.name }, el("th", {}, f.name),
      el("td", { class: f.value === null ? "null" : "" }, f.value === null ? "null" : f.value))));
}

function renderAnnotation(report) {
  const shown = report.extended.annotation ? report.extended : report.parity;
  $("annotation-panel").hidden = !shown.rendered;
  if (!shown.rendered) return;
  $("annotation-shape").textContent = `(${shown.annotation.matcher}, in the configured output shape)`;
  $("annotation").textContent = JSON.stringify(shown.rendered, null, 2);
}

function run() {
  const input = $("input").value;
  const report = JSON.parse(inspect(input, $("treat-as").value, $("config").value));
  const empty = input.trim() === "";
  document.body.dataset.empty = empty ? "true" : "false";

  $("config-error").hidden = !report.config_error;
  $("config-error").textContent = report.config_error ? `configuration refused: ${report.config_error.message}` : "";
  if (report.config_error) $("config-panel").open = true;
  // Nothing to judge yet: an invitation, not verdicts over an empty row.
  $("invitation").hidden = !empty;
  $("verdicts").hidden = empty;
  if (empty) {
    for (const id of ["read-as", "error", "evidence-panel", "fields-panel", "annotation-panel"]) $(id).hidden = true;
    return;
  }
  $("error").hidden = !report.error;
  $("error").textContent = report.error ? `${report.error.kind}: ${report.error.message}` : "";

  const readAs = [];
  if (report.format) {
    const by = report.recognised_by ? ` (by ${report.recognised_by})` : "";
    readAs.push(report.input === "command-line" ? "read as a command line" : `read as ${report.format}${by}`);
    const kinds = { "process-creation": "a process creation", "script-block": "a PowerShell script block (EventID 4104)" };
    readAs.push(kinds[report.event_kind] ?? report.event_kind);
    if (report.event_kind === "process-creation") {
      readAs.push(report.powershell ? "PowerShell (process_powershell holds)" : "not PowerShell");
    }
    if (report.rule) readAs.push(`read by the ${report.rule} rule`);
  }
  if (report.note) readAs.push(report.note);
  $("read-as").hidden = readAs.length === 0;
  $("read-as").textContent = readAs.join(" · ");

  renderVerdict("parity", report.parity, report);
  renderVerdict("extended", report.extended, report);
  renderEvidence(report);
  renderFields(report);
  renderAnnotation(report);
}

async function main() {
  try {
    await init();
  } catch (e) {
    $("status").textContent = `the detector did not load: ${e}`;
    $("status").className = "error";
    return;
  }
  fillExamples();
  const a = JSON.parse(about());
  $("about").textContent =
    `winrm-detect ${a.version} · process-creation rule ${a.rule_id} (extended ${a.extended_rule_id})` +
    ` · script-block rule ${a.script_block_rule_id} (extended ${a.script_block_extended_rule_id})`;
  $("example").addEventListener("change", (e) => {
    if (!e.target.value) return;
    $("input").value = e.target.value;
    run();
  });
  for (const id of ["input", "config"]) $(id).addEventListener("input", run);
  $("treat-as").addEventListener("change", run);
  run();
  $("status").textContent = "ready";
  document.body.dataset.ready = "true";
}

main();
