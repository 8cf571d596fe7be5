// Extended mode by PowerShell's grammar, as a table: for each place where PowerShell runs a
// command, a remote `Invoke-Command` written there, and its negative twin (the same text where
// PowerShell runs nothing, or a local call). Read by `plugin/tests/grammar.rs` (every script in
// three positions) and by `host-test/tests/differential.rs` (every script by a second parser).

/// (script, the targets extended mode reports; empty: nothing fires)
const CASES: &[(&str, &[&str])] = &[
    // A `param(…)` block needs no separator before the block's first statement.
    ("& { param($t) icm -cn $t {hostname} } FS02", &["$t"]),
    ("& { param($t) 'icm -cn $t {hostname}' } FS02", &[]),
    ("& { param($t) icm {hostname} } FS02", &[]),
    ("function Get-Remote { [CmdletBinding()] param([string]$t) Invoke-Command -ComputerName $t {1} }", &["$t"]),
    ("function Get-Remote { [CmdletBinding()] param([string]$t) Write-Output 'icm -cn $t {1}' }", &[]),
    // A parameter's default value runs when no argument is given.
    ("& { param($r = (icm -cn FS02 {1})) $r }", &["FS02"]),
    ("& { param($r = ('icm -cn FS02 {1}')) $r }", &[]),
    // Every assignment operator runs its right-hand side, whatever the target's type.
    ("$out += icm -cn FS02 {whoami}", &["FS02"]),
    ("$out -= icm -cn FS02 {whoami}", &["FS02"]),
    ("$out *= icm -cn FS02 {whoami}", &["FS02"]),
    ("$out ??= icm -cn FS02 {whoami}", &["FS02"]),
    ("[string[]]$r = Invoke-Command -Cn FS02 {whoami}", &["FS02"]),
    ("[ValidateNotNull()][string]$r = icm -cn FS02 {whoami}", &["FS02"]),
    ("$out += 'icm -cn FS02 {whoami}'", &[]),
    ("[string[]]$r = icm {whoami}", &[]),
    ("$s += nsn FS02; icm -Session $s {whoami}", &["FS02"]),
    // Subexpressions of expandable strings run when the string is expanded.
    ("Write-Output \"result: $(icm -cn FS02 {whoami})\"", &["FS02"]),
    ("$x = \"a $(Invoke-Command -ComputerName FS02 -ScriptBlock {1}) b\"", &["FS02"]),
    ("\"$(\"$(icm -cn FS02 {1})\")\"", &["FS02"]),
    ("$h = @\"\nresult: $(icm -cn FS02 {whoami})\n\"@", &["FS02"]),
    ("Write-Output 'result: $(icm -cn FS02 {whoami})'", &[]),
    ("$h = @'\nresult: $(icm -cn FS02 {whoami})\n'@", &[]),
    ("Write-Output \"result: `$(icm -cn FS02 {whoami})\"", &[]),
    ("Write-Output \"$(1); icm -cn FS02 {whoami}\"", &[]),
    ("Write-Output \"$(icm {whoami})\"", &[]),
    // A child PowerShell gets the values of its arguments (PowerShell removes the quotes),
    // as Windows PowerShell 5.1 and PowerShell 7.3+ each pass them.
    ("powershell -c 'icm -cn FS02 {whoami}'", &["FS02"]),
    ("pwsh -NoProfile -Command 'Invoke-Command -Cn FS02 -ScriptBlock {whoami}'", &["FS02"]),
    ("powershell -c 'icm -cn \"FS02\" {whoami}'", &["FS02"]),
    ("powershell -c \"icm -cn FS02 {whoami}\"", &["FS02"]),
    ("powershell -c icm -cn FS02 {whoami}", &["FS02"]),
    ("powershell -c 'Write-Output icm -cn FS02'", &[]),
    ("cmd /c 'icm -cn FS02 {whoami}'", &[]),
    // Statements whose conditions and bodies run commands, pipelines, redirections, method
    // arguments, array and hashtable literals; comments and help text run nothing.
    ("try { icm -cn FS02 {1} } catch { $_ } finally { }", &["FS02"]),
    ("try { } catch { icm -cn FS02 {1} }", &["FS02"]),
    ("trap { icm -cn FS02 {1}; continue }", &["FS02"]),
    ("if ($x) { } elseif (icm -cn FS02 {1}) { }", &["FS02"]),
    ("switch (icm -cn FS02 {1}) { default { } }", &["FS02"]),
    ("switch ($x) { 'a' { icm -cn FS02 {1} } }", &["FS02"]),
    ("foreach ($c in @('FS02')) { icm -cn $c {1} }", &["$c"]),
    ("for ($i = 0; $i -lt 1; $i++) { icm -cn FS02 {1} }", &["FS02"]),
    ("do { icm -cn FS02 {1} } while ($false)", &["FS02"]),
    ("$list.Add((icm -cn FS02 {1}))", &["FS02"]),
    ("icm -cn FS02 {1} > out.txt", &["FS02"]),
    ("icm -cn FS02 {1} 2>&1 | Out-Null", &["FS02"]),
    ("$h = @{ a = (icm -cn FS02 {1}) }", &["FS02"]),
    ("$a = @(icm -cn FS02 {1})", &["FS02"]),
    ("1..2 | ForEach-Object { icm -cn FS02 {1} }", &["FS02"]),
    ("icm -cn FS02 {1} -ErrorAction SilentlyContinue", &["FS02"]),
    ("Get-Help icm -cn FS02", &[]),
    ("# icm -cn FS02 {1}", &[]),
    ("<# icm -cn FS02 {1} #>", &[]),
    ("powershell -c 'icm {whoami}'", &[]),
    // Pipeline chains (PowerShell 7): each side is a pipeline of its own.
    ("Get-Date && icm -cn FS02 {1}", &["FS02"]),
    ("Test-Path x || Invoke-Command -ComputerName FS02 {1}", &["FS02"]),
    ("Get-Date && 'icm -cn FS02 {1}'", &[]),
    // `return`, `throw` and `exit` take a pipeline; `break` and `continue` take a label.
    ("function f { return icm -cn FS02 {1} }", &["FS02"]),
    ("throw (icm -cn FS02 {1})", &["FS02"]),
    ("throw icm -cn FS02 {1}", &["FS02"]),
    ("exit icm -cn FS02 {1}", &["FS02"]),
    ("function f { return 'icm -cn FS02 {1}' }", &[]),
    // A hashtable's value is a statement: a pipeline needs no parentheses there.
    ("$h = @{ a = icm -cn FS02 {1} }", &["FS02"]),
    ("$h = @{ a = 'icm -cn FS02 {1}'; b = icm {1} }", &[]),
    // Script block parts, and script blocks run by the call and dot-source operators.
    ("& { begin { } process { icm -cn FS02 {1} } end { } }", &["FS02"]),
    ("function f { dynamicparam { } end { icm -cn FS02 {1} } }", &["FS02"]),
    (". { icm -cn FS02 {1} }", &["FS02"]),
    ("filter f { icm -cn $_ {1} }", &["$_"]),
    (":outer while ($true) { icm -cn FS02 {1}; break outer }", &["FS02"]),
    ("while (icm -cn FS02 {1}) { }", &["FS02"]),
    ("do { } until (icm -cn FS02 {1})", &["FS02"]),
    ("class C { [void] M() { icm -cn FS02 {1} } }", &["FS02"]),
    // Operators and expressions around a parenthesised pipeline.
    ("$ok = $x ? (icm -cn FS02 {1}) : $null", &["FS02"]),
    ("if (-not (icm -cn FS02 {1})) { }", &["FS02"]),
    ("[string](icm -cn FS02 {1})", &["FS02"]),
    ("$a[(icm -cn FS02 {1})]", &["FS02"]),
    ("$(icm -cn FS02 {1}).Count", &["FS02"]),
    ("Write-Output (icm -cn FS02 {1})", &["FS02"]),
    ("Write-Output $(icm -cn FS02 {1})", &["FS02"]),
    // Argument forms: colon-bound values, arrays, `--` (what follows is positional), line
    // continuations, comments between arguments.
    ("icm -ComputerName:FS02 {1}", &["FS02"]),
    ("icm -cn:'FS02' {1}", &["FS02"]),
    ("icm -cn FS02,FS03 {1}", &["FS02", "FS03"]),
    ("icm -- FS02 {1}", &["FS02"]),
    ("icm `\n  -cn FS02 `\n  {1}", &["FS02"]),
    ("icm <# remote #> -cn FS02 {1}", &["FS02"]),
    ("Microsoft.PowerShell.Core\\Invoke-Command -ComputerName FS02 {1}", &["FS02"]),
    // The stop-parsing token hands the rest of the line (up to a pipe or a new line) to the
    // native command as it is.
    ("cmd /c --% echo a; icm -cn FS02 {1}", &[]),
    ("cmd /c --% echo a | icm -cn FS02 {1}", &["FS02"]),
    ("cmd /c --% echo a\nicm -cn FS02 {1}", &["FS02"]),
    ("powershell --% -c icm -cn FS02 {1}", &["FS02"]),
    // Text that PowerShell runs as a script: `Invoke-Expression` and `[scriptblock]::Create`
    // of a string written in the script.
    ("iex 'icm -cn FS02 {1}'", &["FS02"]),
    ("Invoke-Expression -Command \"Invoke-Command -ComputerName FS02 {1}\"", &["FS02"]),
    ("& ([scriptblock]::Create('icm -cn FS02 {1}'))", &["FS02"]),
    ("iex @'\nicm -cn FS02 {1}\n'@", &["FS02"]),
    ("'icm -cn FS02 {1}' | iex", &["FS02"]),
    ("'icm -cn FS02 {1}' | Invoke-Expression", &["FS02"]),
    ("$ExecutionContext.InvokeCommand.InvokeScript('icm -cn FS02 {1}')", &["FS02"]),
    ("[powershell]::Create().AddScript('icm -cn FS02 {1}').Invoke()", &["FS02"]),
    ("& $ExecutionContext.InvokeCommand.NewScriptBlock('icm -cn FS02 {1}')", &["FS02"]),
    ("iex 'icm {1}'", &[]),
    ("'icm -cn FS02 {1}' | Write-Output", &[]),
    ("$x | iex", &[]),
    // A name PowerShell resolves from what the script itself wrote: a variable holding a
    // string, an alias the script defines, `Get-Command` of a written name.
    ("$c = 'Invoke-Command'; & $c -cn FS02 {1}", &["FS02"]),
    ("$c = \"icm\"; . $c -ComputerName FS02 {1}", &["FS02"]),
    ("$p = 'icm -cn FS02 {1}'; iex $p", &["FS02"]),
    ("$p = 'icm -cn FS02 {1}'; $p | iex", &["FS02"]),
    ("Set-Alias run Invoke-Command; run -cn FS02 {1}", &["FS02"]),
    ("New-Alias -Name run -Value icm; run FS02 {1}", &["FS02"]),
    ("sal -Value icm -Name run; run -ComputerName FS02 {1}", &["FS02"]),
    ("& (gcm icm) -cn FS02 {1}", &["FS02"]),
    ("& (Get-Command Invoke-Command) -ComputerName FS02 {1}", &["FS02"]),
    ("$c = 'Invoke-Command'; $c = 'Get-Date'; & $c -cn FS02 {1}", &[]),
    ("$c = 'Invoke-Command'; & $c {1}", &[]),
    ("Set-Alias run Get-Date; run -cn FS02 {1}", &[]),
    ("Set-Alias run Invoke-Command; walk -cn FS02 {1}", &[]),
    ("& (gcm Get-Date) -cn FS02 {1}", &[]),
    ("Write-Output 'iex icm -cn FS02'", &[]),
    // Positions the grammar gives that no list of the bracket reading named (the parser of
    // PowerShell's grammar reads them all the same way).
    // A `foreach` header holds a pipeline.
    ("foreach ($c in icm -cn FS02 {hostname}) { $c }", &["FS02"]),
    ("foreach ($c in 'icm -cn FS02 {1}') { $c }", &[]),
    // Every target the grammar allows an assignment: a member, an index, a list.
    ("$r.Output = icm -cn FS02 {1}", &["FS02"]),
    ("$r[0] = icm -cn FS02 {1}", &["FS02"]),
    ("$a, $b = icm -cn FS02 {1}", &["FS02"]),
    ("$a[(icm -cn FS02 {1})] = 1", &["FS02"]),
    ("$r.Output = 'icm -cn FS02 {1}'", &[]),
    // A hashtable's key is an expression.
    ("$h = @{ (icm -cn FS02 {1}) = 1 }", &["FS02"]),
    ("$h = @{ \"$(icm -cn FS02 {1})\" = 1 }", &["FS02"]),
    ("$h = @{ icm = 'FS02' }", &[]),
    // `&` at a pipeline's end runs it in the background (PowerShell 7) and ends the statement.
    ("Get-Date & icm -cn FS02 {1}", &["FS02"]),
    ("Start-Sleep 1 & Invoke-Command -ComputerName FS02 {1} &", &["FS02"]),
    // A statement's value: a keyword statement on the right of `=`.
    ("$x = if ($true) { icm -cn FS02 {1} }", &["FS02"]),
    ("$x = switch (1) { 1 { icm -cn FS02 {1} } }", &["FS02"]),
    ("$x = foreach ($i in 1) { icm -cn FS02 {1} }", &["FS02"]),
    ("$x = try { icm -cn FS02 {1} } finally { }", &["FS02"]),
    // Loop headers.
    ("for ($i = icm -cn FS02 {1}; $i; $i = $null) { }", &["FS02"]),
    ("for (;; icm -cn FS02 {1}) { break }", &["FS02"]),
    ("switch -Regex -CaseSensitive (icm -cn FS02 {1}) { default { } }", &["FS02"]),
    ("switch -File list.txt { default { icm -cn $_ {1} } }", &["$_"]),
    ("switch ($x) { {icm -cn FS02 {1}} { } }", &["FS02"]),
    ("switch ($x) { 'icm -cn FS02 {1}' { 'matched' } }", &[]),
    // Functions' parameters, attributes' arguments, classes' members.
    ("function f($t = (icm -cn FS02 {1})) { }", &["FS02"]),
    ("function f { param([ValidateScript({ icm -cn FS02 {1} })]$t) }", &["FS02"]),
    ("[ValidateScript({ icm -cn FS02 {1} })]$t = 1", &["FS02"]),
    ("class C { $P = (icm -cn FS02 {1}) }", &["FS02"]),
    ("class C { static [void] M([string]$t) { icm -cn $t {1} } }", &["$t"]),
    ("class C : Base { C() : base((icm -cn FS02 {1})) { } }", &["FS02"]),
    ("function f { [CmdletBinding()] param() begin { } process { icm -cn FS02 {1} } }", &["FS02"]),
    ("catch { }", &[]),
    ("try { } catch [System.Net.WebException], [System.IO.IOException] { icm -cn FS02 {1} }", &["FS02"]),
    ("trap [System.Exception] { icm -cn FS02 {1} }", &["FS02"]),
    ("data -SupportedCommand Get-Date { icm -cn FS02 {1} }", &["FS02"]),
    ("workflow w { parallel { icm -cn FS02 {1} } }", &["FS02"]),
    ("using namespace System.IO\nicm -cn FS02 {1}", &["FS02"]),
    (":outer foreach ($i in 1) { icm -cn FS02 {1} }", &["FS02"]),
    // Methods' arguments and script blocks, casts, unary operators, redirections' targets.
    ("$list.ForEach({ icm -cn FS02 {1} })", &["FS02"]),
    ("$list.Where{ icm -cn FS02 {1} }", &["FS02"]),
    ("[void](icm -cn FS02 {1})", &["FS02"]),
    ("-join (icm -cn FS02 {1})", &["FS02"]),
    (",(icm -cn FS02 {1})", &["FS02"]),
    ("Get-Date > $(icm -cn FS02 {1})", &["FS02"]),
    ("$null = & icm -cn FS02 {1}", &["FS02"]),
    ("Get-Date |\n  Invoke-Command -ComputerName FS02 {1}", &["FS02"]),
    ("Get-Date\n| Invoke-Command -ComputerName FS02 {1}", &["FS02"]),
    // An argument word's subexpressions run (`a$(…)`); a quoted section of it does not.
    ("Write-Output out$(icm -cn FS02 {1})", &["FS02"]),
    ("Write-Output out'$(icm -cn FS02 {1})'", &[]),
    // A session in a scoped or braced variable.
    ("$script:s = nsn FS02; icm -Session $script:s {1}", &["FS02"]),
    ("${s} = nsn FS02; icm -Session $s {1}", &["FS02"]),
    // The call operator on a group that gives the name.
    ("& ('Invoke-Command') -ComputerName FS02 {1}", &["FS02"]),
    (". 'icm' -cn FS02 {1}", &["FS02"]),
    // What looks like a call and is not one: a string at a statement's start is an
    // expression (PowerShell refuses what follows it), a word after a command is its argument,
    // a member and a type are values.
    ("'Invoke-Command' -Cn FS02 {1}", &[]),
    ("\"icm\" -cn FS02 {1}", &[]),
    ("Write-Output icm -cn FS02 {1}", &[]),
    ("$x.icm -cn FS02 {1}", &[]),
    ("[icm] -cn FS02", &[]),
    ("icm# -cn FS02 {1}", &[]),
];
