// The playground in a real browser: Debian's headless Chromium, driven by playwright-core, opens
// the built page from a loopback server, pastes positives and negatives and reads what the page
// shows. Run by playground/tests/browser.rs (so by `cargo test`); by hand:
//
//   node playground/browser-test/test.mjs SITE_DIR SCREENSHOT_DIR
//
// Writes SCREENSHOT_DIR/playground-parity.png and playground-extended.png.

import { strict as assert } from "node:assert";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "../serve.mjs";

const [site, shots] = process.argv.slice(2);
if (!site || !shots) {
  console.error("usage: node test.mjs SITE_DIR SCREENSHOT_DIR");
  process.exit(2);
}
await mkdir(shots, { recursive: true });
const fixtures = join(dirname(fileURLToPath(import.meta.url)), "../../fixtures/events");
const line = async (file, n) => (await readFile(join(fixtures, file), "utf8")).split("\n")[n - 1];

const server = await serve(site, 0);
const url = `http://127.0.0.1:${server.address().port}/`;
// The flags keep Chromium off the network this machine does not have (see the env notes).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const problems = [];
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: url });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));

  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  const text = (selector) => page.locator(selector).innerText();
  const state = (id) => page.getAttribute(`#${id}`, "data-state");
  const marks = async (layer) => page.locator(`pre[data-layer="${layer}"] mark`).allInnerTexts();
  const chips = async (id, kind) => page.locator(`#${id} .chip.${kind}`).allInnerTexts();
  const field = (name) => text(`#fields tr[data-field="${name}"] td`);

  // Paste for real: the clipboard, then Ctrl+V into the emptied input.
  const paste = async (value) => {
    await page.fill("#input", "");
    await page.evaluate((v) => navigator.clipboard.writeText(v), value);
    await page.focus("#input");
    await page.keyboard.press("Control+V");
    await page.waitForFunction((v) => document.getElementById("input").value === v, value);
  };
  const step = (name) => console.log(`browser-test: ${name}`);

  step("an empty page invites a paste instead of judging an empty row");
  assert.equal(await page.isVisible("#invitation"), true, "no invitation on the empty page");
  assert.equal(await page.isVisible("#verdicts"), false, "verdicts shown for no input");
  assert.equal(await page.isVisible("#fields-panel"), false, "CIM fields shown for no input");

  step("the example list holds every fixture line");
  const options = await page.locator("#example option[value]:not([value=''])").count();
  assert.ok(options >= 50, `only ${options} examples`);

  step("a Sysmon XML positive matches in both modes, evidence marked");
  await paste(await line("sysmon1.xml", 1));
  assert.equal(await state("parity"), "match");
  assert.equal(await state("extended"), "match");
  assert.match(await text("#read-as"), /read as windows-xml \(by <Event>\) · a process creation · PowerShell/);
  assert.match(await text("#parity .reason"), /Invoke-Command\* and \*-ComputerName\*/);
  assert.deepEqual(await marks("process"), ["Invoke-Command", "-ComputerName"]);
  assert.deepEqual(await chips("parity", "target"), ["FS02", "DC01"]);
  assert.equal(await field("dest"), "WS01.corp.example");
  assert.equal(await field("process_name"), "powershell.exe");
  assert.match(await text("#annotation"), /"rule_id": "ba24cda8-4716-11ec-8009-3e22fbd008af"/);
  await page.screenshot({ path: join(shots, "playground-parity.png"), fullPage: true });

  step("the exports people already have: the read-as line names the source and its mark");
  for (const [file, n, readAs, dest] of [
    ["nxlog.xml", 2, /read as nxlog \(by <Event> fields \(NXLog to_xml\)\) · a process creation/, "WS02.corp.example"],
    ["azure-monitor.jsonl", 4, /read as azure-monitor \(by Type Event\) · a process creation/, "WS04.corp.example"],
    ["splunk.jsonl", 3, /read as splunk \(by _raw\) · a process creation/, "WS03.corp.example"],
    ["flattened.jsonl", 1, /read as nxlog \(by event_id\) · a process creation/, "WS01.corp.example"],
    ["elastic-agent.jsonl", 3, /read as ecs \(by process\) · a process creation/, "WS03.corp.example"],
  ]) {
    await page.selectOption("#example", await line(file, n));
    assert.match(await text("#read-as"), readAs, `${file} #${n}`);
    assert.equal(await state("parity"), "match", `${file} #${n}`);
    assert.equal(await field("dest"), dest, `${file} #${n}`);
  }

  step("an encoded command from the examples: extended only, the decoded script marked");
  const encoded = await line("extended.evtx.jsonl", 7);
  await page.selectOption("#example", encoded);
  assert.equal(await page.inputValue("#input"), encoded);
  assert.equal(await state("parity"), "no-match");
  assert.match(await text("#parity .reason"), /lacks \*Invoke-Command\* and \*-ComputerName\*/);
  assert.equal(await state("extended"), "match");
  assert.deepEqual(await chips("extended", "technique"), ["encoded-command"]);
  assert.deepEqual(await chips("extended", "target"), ["FS02"]);
  assert.ok((await marks("process/encoded-command")).includes("Invoke-Command"));
  assert.match(await text("#annotation"), /bd89c675-4f02-5c20-b28e-f4ec9dfdc707/);
  await page.screenshot({ path: join(shots, "playground-extended.png"), fullPage: true });

  step("a script block (EventID 4104) from the examples: its own rule, extended only");
  await page.selectOption("#example", await line("scriptblock.xml", 4));
  assert.equal(await state("parity"), "no-match");
  assert.match(await text("#parity .reason"), /script block text lacks \*Invoke-Command\* and \*-ComputerName\*/);
  assert.equal(await state("extended"), "match");
  assert.match(await text("#read-as"), /a PowerShell script block \(EventID 4104\) · read by the script-block rule/);
  assert.deepEqual(await marks("script-block"), ["icm", "-cn"]);
  assert.deepEqual(await chips("extended", "target"), ["FS02"]);
  assert.equal(await field("ScriptBlockText"), "icm -cn FS02 { whoami }");
  assert.match(await text("#annotation"), /"rule": "script-block"/);
  assert.match(await text("#annotation"), /e9faac01-cec4-5f84-9219-77000ecdeee6/);

  step("a bare command line with an alias and a parameter alias");
  await page.fill("#input", "");
  await page.focus("#input");
  await page.keyboard.type("icm -Cn FS02 { whoami }");
  assert.equal(await state("parity"), "no-match");
  assert.equal(await state("extended"), "match");
  assert.deepEqual(await chips("extended", "technique"), ["alias", "parameter-alias"]);
  assert.deepEqual(await marks("process"), ["icm", "-Cn"]);
  assert.match(await text("#read-as"), /run as PowerShell script/);

  step("a negative: Invoke-Command with no computer named");
  await paste(await line("extended.evtx.jsonl", 13));
  assert.equal(await state("parity"), "no-match");
  assert.equal(await state("extended"), "no-match");
  assert.match(await text("#extended .reason"), /would not run Invoke-Command or New-PSSession/);
  assert.equal(await page.locator("#annotation-panel").isHidden(), true);
  step("a loopback target is reported, and marked, unless the configuration says otherwise");
  await paste(await line("extended.evtx.jsonl", 10));
  assert.equal(await state("extended"), "match");
  assert.deepEqual(await chips("extended", "target"), ["localhost (loopback)"]);
  await page.click("#config-panel summary");
  await page.fill("#config", '{"report_loopback": false}');
  assert.equal(await state("extended"), "suppressed");
  assert.match(await text("#extended .reason"), /loopback option suppresses it/);

  step("a broken event is an error, a bad configuration is named");
  await paste('{"EventID": 1, "Image": ');
  assert.equal(await state("parity"), "error");
  assert.match(await text("#error"), /^broken-json: /);
  await paste(await line("sysmon1.xml", 1));
  await page.fill("#config", '{"mode": "loud"}');
  assert.match(await text("#config-error"), /configuration refused: .*mode/);
  await page.fill("#config", '{"allowlist": {"users": ["ALICE"]}}');
  assert.equal(await state("parity"), "suppressed");
  assert.match(await text("#parity .reason"), /allowlist/);

  step("emptied again, the page invites a paste again");
  await page.fill("#input", "");
  assert.equal(await page.isVisible("#invitation"), true);
  assert.equal(await page.isVisible("#verdicts"), false);

  assert.deepEqual(problems, [], "the page logged errors");
  step(`passed; screenshots in ${shots}`);
} catch (e) {
  failed = true;
  console.error(e);
  if (problems.length) console.error(problems.join("\n"));
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
