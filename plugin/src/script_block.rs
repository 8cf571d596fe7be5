//! The script-block twin: ESCU's "Remote Process Instantiation via WinRM and PowerShell
//! Script Block" over PowerShell's EventID 4104, and the parts of multi-part blocks held
//! until their block is whole.
//!
//! Parity is the search to the letter, one event at a time: `ScriptBlockText` holds
//! `*Invoke-Command*` and `*-ComputerName*`, without case. Extended reads the same text with
//! [`cmdline::analyse_script`], as PowerShell would run it, and fires on a real invocation
//! only: a command whose name resolves to `Invoke-Command` (alias, prefix, quoting, backtick,
//! call operator) with a WinRM target, wherever it stands as code (top level, a function or
//! script block body, a pipeline, `powershell -enc …` inside the script). Text that is never
//! run as a command is not an invocation: strings, here-strings, comments, `-Name` values.
//!
//! PowerShell cuts a block longer than about 32 K characters into parts (`MessageNumber` of
//! `MessageTotal`, one `ScriptBlockId`). A call cut by that boundary is in neither event; in
//! extended mode the parts are held ([`Parts`], bounded by `limits.max_pending_script_block_bytes`)
//! and the whole block is read once its last part arrives. It is reported, on the event that
//! completed it, only when no part fired on its own.

use std::collections::VecDeque;

use crate::event::ScriptBlock;

/// Parts of multi-part blocks that are not whole yet, oldest first.
#[derive(Default)]
pub struct Parts {
    blocks: VecDeque<Pending>,
    bytes: usize,
}

struct Pending {
    /// The block's `Computer` and `ScriptBlockId`: an id is unique on its host only.
    key: (String, String),
    parts: Vec<Option<String>>,
    bytes: usize,
    /// Whether one of its parts fired (or was suppressed) on its own.
    reported: bool,
}

/// Blocks of more parts than this are not held: PowerShell writes 32 K characters a part,
/// so 256 parts is a script of 8 M characters, past any byte limit anyway.
const MAX_PARTS: u32 = 256;

impl Parts {
    /// Files one part of a multi-part block and, when it makes the block whole, returns the
    /// joined text, unless a part of it was reported already (`fired`: this one). `budget`
    /// bounds the bytes held over all blocks: the oldest blocks are dropped to make room, and
    /// a part that alone does not fit is not held (its block is then read part by part only).
    /// A block of one part, or without its id and numbers, is not held.
    pub fn file(&mut self, computer: &str, part: &ScriptBlock, fired: bool, budget: usize) -> Option<String> {
        let (Some(id), Some(number), Some(total)) = (&part.id, part.message_number, part.message_total) else {
            return None;
        };
        if !(2..=MAX_PARTS).contains(&total) || !(1..=total).contains(&number) {
            return None;
        }
        let text = part.text.as_str();
        let key = (computer.to_ascii_lowercase(), id.to_ascii_lowercase());
        let at = match self.blocks.iter().position(|b| b.key == key) {
            Some(at) => at,
            None => {
                self.blocks.push_back(Pending { key, parts: vec![None; total as usize], bytes: 0, reported: false });
                self.blocks.len() - 1
            }
        };
        let slot = (number - 1) as usize;
        let block = &mut self.blocks[at];
        if block.parts.len() != total as usize {
            // The same id with another total: not the same block after all; start again.
            self.bytes -= block.bytes;
            *block = Pending { key: block.key.clone(), parts: vec![None; total as usize], bytes: 0, reported: false };
        }
        block.reported |= fired;
        if block.parts[slot].is_none() {
            block.parts[slot] = Some(text.to_string());
            block.bytes += text.len();
            self.bytes += text.len();
        }
        if block.parts.iter().all(Option::is_some) {
            let block = self.blocks.remove(at).expect("the block just filed");
            self.bytes -= block.bytes;
            return (!block.reported).then(|| block.parts.into_iter().flatten().collect());
        }
        while self.bytes > budget {
            let Some(oldest) = self.blocks.pop_front() else { break };
            self.bytes -= oldest.bytes;
        }
        None
    }

    /// Blocks held and the bytes of their parts.
    pub fn held(&self) -> (usize, usize) {
        (self.blocks.len(), self.bytes)
    }
}

/// The layer name evidence carries: the event's own text, or the parts joined.
pub const LAYER: &str = "script-block";
pub const JOINED_LAYER: &str = "script-block/joined";

/// The technique named when only the joined parts show the invocation.
pub const SPLIT: &str = "split-script-block";

#[cfg(test)]
mod tests {
    use super::*;

    fn part(id: &str, number: u32, total: u32, text: &str) -> ScriptBlock {
        ScriptBlock {
            text: text.into(),
            id: Some(id.into()),
            message_number: Some(number),
            message_total: Some(total),
            path: None,
        }
    }

    #[test]
    fn parts_join_in_order_whatever_the_order_they_arrive_in() {
        let mut parts = Parts::default();
        assert!(parts.file("WS01", &part("id", 2, 3, "b"), false, 1 << 20).is_none());
        assert!(parts.file("WS01", &part("id", 1, 3, "a"), false, 1 << 20).is_none());
        assert_eq!(parts.held(), (1, 2));
        assert_eq!(parts.file("ws01", &part("ID", 3, 3, "c"), false, 1 << 20).as_deref(), Some("abc"));
        assert_eq!(parts.held(), (0, 0));
    }

    #[test]
    fn a_block_whose_part_fired_is_not_read_again() {
        let mut parts = Parts::default();
        assert!(parts.file("WS01", &part("id", 1, 2, "a"), true, 1 << 20).is_none());
        assert!(parts.file("WS01", &part("id", 2, 2, "b"), false, 1 << 20).is_none());
        assert_eq!(parts.held(), (0, 0));
    }

    #[test]
    fn the_budget_drops_the_oldest_block() {
        let mut parts = Parts::default();
        assert!(parts.file("WS01", &part("old", 1, 2, "aaaa"), false, 6).is_none());
        assert!(parts.file("WS01", &part("new", 1, 2, "bbbb"), false, 6).is_none());
        assert_eq!(parts.held(), (1, 4));
        assert!(parts.file("WS01", &part("old", 2, 2, "a"), false, 6).is_none(), "the old block was dropped");
        assert_eq!(parts.file("WS01", &part("new", 2, 2, "b"), false, 6).as_deref(), Some("bbbbb"));
    }

    #[test]
    fn single_and_nonsense_parts_are_not_held() {
        let mut parts = Parts::default();
        assert!(parts.file("WS01", &part("id", 1, 1, "a"), false, 1 << 20).is_none());
        assert!(parts.file("WS01", &part("id", 0, 2, "a"), false, 1 << 20).is_none());
        assert!(parts.file("WS01", &part("id", 3, 2, "a"), false, 1 << 20).is_none());
        assert!(parts.file("WS01", &part("id", 1, MAX_PARTS + 1, "a"), false, 1 << 20).is_none());
        assert_eq!(parts.held(), (0, 0));
    }
}
