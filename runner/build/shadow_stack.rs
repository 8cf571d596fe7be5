//! Makes the Fluent Bit module's shadow stack survive a trap.
//!
//! Rust (through LLVM) keeps the stack of a wasm32 program in linear memory, addressed by a
//! mutable global, `__stack_pointer`, that each function lowers on entry and restores on
//! return. A trap skips the restores: the global stays lowered by every frame that was
//! live. Fluent Bit keeps one instance for the life of the filter, so each trap would eat
//! into the stack until calls start failing for good (out-of-bounds accesses past the
//! bottom). Rust cannot write that global, so the built module is rewritten here: every
//! export Fluent Bit calls as a filter (`winrm_detect_*`) starts by setting
//! `__stack_pointer` back to its initial value. That is exact, not a guess: Fluent Bit calls
//! a filter only from outside the module and never while another call runs, so on entry
//! the shadow stack is empty. The rewrite refuses to run if the module itself calls one of
//! those exports (its caller's frame would be lost).
//!
//! `wasmparser` reads the module; `wasm-encoder` writes it, every section but the code copied
//! byte for byte. The name section is dropped unless the names are wanted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use wasm_encoder::{CodeSection, Encode, Instruction, RawSection};
use wasmparser::{KnownCustom, Name, Operator, Parser, Payload, TypeRef};

/// The exports Fluent Bit calls as filter functions.
const FILTER_PREFIX: &str = "winrm_detect_";

/// Writes `<module>.rewritten.wasm` beside `module` and returns its path.
pub fn reset_on_entry(module: &Path, keep_names: bool) -> PathBuf {
    let wasm = std::fs::read(module).expect("read the Fluent Bit module");
    let rewritten = rewrite(&wasm, keep_names).unwrap_or_else(|e| panic!("rewriting {}: {e}", module.display()));
    let out = module.with_extension("rewritten.wasm");
    std::fs::write(&out, rewritten).expect("write the rewritten module");
    out
}

fn rewrite(wasm: &[u8], keep_names: bool) -> Result<Vec<u8>, String> {
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    // First pass: where the stack pointer is, what it starts at, which functions to change.
    let mut imported_functions = 0u32;
    let mut imported_globals = 0u32;
    let mut global_inits: Vec<Option<i32>> = Vec::new();
    let mut exports: HashMap<u32, String> = HashMap::new();
    let mut stack_pointer = None;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    match import.map_err(err)?.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => imported_functions += 1,
                        TypeRef::Global(_) => imported_globals += 1,
                        _ => {}
                    }
                }
            }
            Payload::GlobalSection(globals) => {
                for global in globals {
                    let mut ops = global.map_err(err)?.init_expr.get_operators_reader();
                    global_inits.push(match ops.read().map_err(err)? {
                        Operator::I32Const { value } => Some(value),
                        _ => None,
                    });
                }
            }
            Payload::ExportSection(list) => {
                for export in list {
                    let export = export.map_err(err)?;
                    if export.kind == wasmparser::ExternalKind::Func && export.name.starts_with(FILTER_PREFIX) {
                        exports.insert(export.index, export.name.to_string());
                    }
                }
            }
            Payload::CustomSection(custom) => {
                if let KnownCustom::Name(names) = custom.as_known() {
                    for name in names {
                        if let Name::Global(map) = name.map_err(err)? {
                            for naming in map {
                                let naming = naming.map_err(err)?;
                                if naming.name == "__stack_pointer" {
                                    stack_pointer = Some(naming.index);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let stack_pointer = stack_pointer.ok_or("no global named __stack_pointer (was the name section stripped?)")?;
    let initial = stack_pointer
        .checked_sub(imported_globals)
        .and_then(|i| global_inits.get(i as usize).copied().flatten())
        .ok_or("__stack_pointer is imported or not initialised by a constant")?;
    if exports.is_empty() {
        return Err(format!("no {FILTER_PREFIX}* export"));
    }
    let mut prologue = Vec::new();
    Instruction::I32Const(initial).encode(&mut prologue);
    Instruction::GlobalSet(stack_pointer).encode(&mut prologue);

    // Second pass: copy every section, the code with the prologue added.
    let mut module = wasm_encoder::Module::new();
    let mut code = CodeSection::new();
    let mut index = imported_functions;
    let mut bodies_left = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(err)?;
        match &payload {
            Payload::CodeSectionStart { count, .. } => bodies_left = *count,
            Payload::CodeSectionEntry(body) => {
                for op in body.get_operators_reader().map_err(err)? {
                    if let Operator::Call { function_index } = op.map_err(err)?
                        && let Some(name) = exports.get(&function_index)
                    {
                        return Err(format!("function {index} calls the export {name}: its stack must not be reset"));
                    }
                }
                let range = body.range();
                let bytes = &wasm[range.start as usize..range.end as usize];
                match exports.contains_key(&index) {
                    true => {
                        let ops_at = body.get_binary_reader_for_operators().map_err(err)?.original_position();
                        let split = (ops_at - range.start) as usize;
                        let mut changed = bytes[..split].to_vec();
                        changed.extend_from_slice(&prologue);
                        changed.extend_from_slice(&bytes[split..]);
                        code.raw(&changed);
                    }
                    false => {
                        code.raw(bytes);
                    }
                }
                index += 1;
                bodies_left -= 1;
                if bodies_left == 0 {
                    module.section(&code);
                }
            }
            Payload::CustomSection(custom) if custom.name() == "name" && !keep_names => {}
            other => {
                if let Some((id, range)) = other.as_section() {
                    module.section(&RawSection { id, data: &wasm[range.start as usize..range.end as usize] });
                }
            }
        }
    }
    Ok(module.finish())
}
