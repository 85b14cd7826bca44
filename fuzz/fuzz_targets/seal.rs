//! Sealed headers: the pre-runtime digest and seal decoding and the
//! stateless seal rule (`upow_primitives::seal`: `split_seal`,
//! `check_signature`, `check_ticket`) never panic, and accept only what
//! `//Alice` sealed: whatever passes the signature check has the honest
//! pre-seal hash and digest, and its ticket meets the honest difficulty.
//!
//! Each input is one of:
//!
//! * `Header`: arbitrary bytes decoded as a header (as a node decodes an
//!   announced or downloaded block's header);
//! * `Patch`: the honest sealed header's encoding with bytes overwritten,
//!   truncated and appended to, then decoded;
//! * `Items`: digest edits on the honest header (items pushed, removed,
//!   swapped, their engine or bytes changed);
//! * `Parts`: the rule's inputs directly: pre-runtime and seal bytes (or
//!   the honest ones, patched), a pre-seal hash, a parent and a difficulty.

#![no_main]

use arbitrary::Arbitrary;
use codec::{DecodeAll, Encode};
use libfuzzer_sys::fuzz_target;
use sp_runtime::{traits::Header as _, DigestItem};
use upow_primitives::{
    seal::{check_signature, check_ticket, split_seal},
    Hash, Header,
};
use upow_fuzz::{
    chain::{CHAIN, GENESIS, PARENT},
    outcome, stat,
};

/// One change to the honest header's digest. Indices wrap.
#[derive(Arbitrary, Debug)]
enum ItemEdit {
    Push {
        kind: u8,
        engine: [u8; 4],
        bytes: Vec<u8>,
    },
    Insert {
        at: u8,
        kind: u8,
        engine: [u8; 4],
        bytes: Vec<u8>,
    },
    Remove {
        at: u8,
    },
    Swap {
        a: u8,
        b: u8,
    },
    Engine {
        at: u8,
        engine: [u8; 4],
    },
    Byte {
        at: u8,
        offset: u16,
        value: u8,
    },
    Truncate {
        at: u8,
        len: u16,
    },
}

#[derive(Arbitrary, Debug)]
enum Input {
    Header {
        bytes: Vec<u8>,
        difficulty: Option<u128>,
    },
    Patch {
        patches: Vec<(u16, u8)>,
        truncate: Option<u16>,
        append: Vec<u8>,
    },
    Items(Vec<ItemEdit>),
    Parts {
        /// `None`: the honest digest's bytes (patched below).
        pre_digest: Option<Vec<u8>>,
        /// No pre-runtime item at all.
        missing: bool,
        seal: Option<Vec<u8>>,
        patches: Vec<(u8, u16, u8)>,
        pre_hash: Option<[u8; 32]>,
        parent: Option<[u8; 32]>,
        difficulty: Option<u128>,
    },
}

fn item(kind: u8, engine: [u8; 4], bytes: Vec<u8>) -> DigestItem {
    match kind % 5 {
        0 => DigestItem::PreRuntime(engine, bytes),
        1 => DigestItem::Consensus(engine, bytes),
        2 => DigestItem::Seal(engine, bytes),
        3 => DigestItem::Other(bytes),
        _ => DigestItem::RuntimeEnvironmentUpdated,
    }
}

fn item_bytes(item: &mut DigestItem) -> Option<&mut Vec<u8>> {
    match item {
        DigestItem::PreRuntime(_, b)
        | DigestItem::Consensus(_, b)
        | DigestItem::Seal(_, b)
        | DigestItem::Other(b) => Some(b),
        DigestItem::RuntimeEnvironmentUpdated => None,
    }
}

fn edit(header: &mut Header, edit: ItemEdit) {
    let logs = &mut header.digest_mut().logs;
    let at = |i: u8, len: usize| (len > 0).then(|| i as usize % len);
    match edit {
        ItemEdit::Push {
            kind,
            engine,
            bytes,
        } => logs.push(item(kind, engine, bytes)),
        ItemEdit::Insert {
            at: i,
            kind,
            engine,
            bytes,
        } => {
            let i = i as usize % (logs.len() + 1);
            logs.insert(i, item(kind, engine, bytes));
        }
        ItemEdit::Remove { at: i } => {
            if let Some(i) = at(i, logs.len()) {
                logs.remove(i);
            }
        }
        ItemEdit::Swap { a, b } => {
            if let (Some(a), Some(b)) = (at(a, logs.len()), at(b, logs.len())) {
                logs.swap(a, b);
            }
        }
        ItemEdit::Engine { at: i, engine } => {
            if let Some(i) = at(i, logs.len()) {
                match &mut logs[i] {
                    DigestItem::PreRuntime(e, _)
                    | DigestItem::Consensus(e, _)
                    | DigestItem::Seal(e, _) => *e = engine,
                    _ => {}
                }
            }
        }
        ItemEdit::Byte {
            at: i,
            offset,
            value,
        } => {
            if let Some(bytes) = at(i, logs.len()).and_then(|i| item_bytes(&mut logs[i])) {
                if !bytes.is_empty() {
                    let len = bytes.len();
                    bytes[offset as usize % len] = value;
                }
            }
        }
        ItemEdit::Truncate { at: i, len } => {
            if let Some(bytes) = at(i, logs.len()).and_then(|i| item_bytes(&mut logs[i])) {
                bytes.truncate(len as usize);
            }
        }
    }
}

/// The rule on a whole header, as the import queue runs it.
fn check_header(header: &Header, difficulty: Option<u128>) {
    let parts = split_seal(header);
    stat("split", &outcome(&parts));
    let Ok(parts) = parts else { return };
    let pre_hash = parts.unsealed.hash().0;
    let digest = check_parts(
        &pre_hash,
        parts.pre_digest.as_deref(),
        &parts.seal,
        &parts.unsealed.parent_hash.0,
        difficulty,
    );
    // Through the header's hash, the seal binds the digest too.
    if let Some(digest) = digest {
        assert_eq!(digest, CHAIN.digest, "a seal verified with another digest");
    }
    if pre_hash == CHAIN.pre_hash {
        assert_eq!(
            parts.unsealed.encode(),
            {
                let mut honest = CHAIN.header.clone();
                honest.digest_mut().pop();
                honest.encode()
            },
            "another header with the honest pre-seal hash"
        );
    }
}

/// The signature and ticket rules on their inputs; checks soundness: only
/// `//Alice` signs, and she signed one pre-seal hash. (The rule takes the
/// pre-seal hash and the digest apart: that the hash is the one of the
/// header carrying the digest is its caller's part, `split_seal`'s in
/// [`check_header`]. So with the honest hash any digest of Alice's passes
/// here, and the digest is checked there.) Returns the digest that passed.
fn check_parts(
    pre_hash: &Hash,
    pre_digest: Option<&[u8]>,
    seal: &[u8],
    parent: &Hash,
    difficulty: Option<u128>,
) -> Option<upow_primitives::PreDigest> {
    let honest = &CHAIN.fixture.honest;
    let signed = check_signature(&GENESIS, pre_hash, pre_digest, seal);
    stat("signature", &outcome(&signed));
    let digest = signed.ok()?;
    assert_eq!(
        pre_hash, &CHAIN.pre_hash,
        "a seal verified for another header"
    );
    assert_eq!(digest.author(), CHAIN.digest.author());
    let difficulty = difficulty.unwrap_or(honest.difficulty);
    let ticket = check_ticket(parent, &digest, difficulty);
    stat("ticket", &outcome(&ticket));
    if parent == &PARENT && difficulty == honest.difficulty && digest == CHAIN.digest {
        assert_eq!(ticket, Ok(()), "the honest ticket was refused");
    }
    Some(digest)
}

fuzz_target!(|input: Input| {
    let chain = &*CHAIN;
    match input {
        Input::Header { bytes, difficulty } => {
            if let Ok(header) = Header::decode_all(&mut &bytes[..]) {
                check_header(&header, difficulty);
            }
        }
        Input::Patch {
            patches,
            truncate,
            append,
        } => {
            let mut bytes = chain.header.encode();
            for (offset, value) in patches {
                let len = bytes.len();
                bytes[offset as usize % len] = value;
            }
            if let Some(len) = truncate {
                bytes.truncate(len as usize);
            }
            bytes.extend(append);
            if let Ok(header) = Header::decode_all(&mut &bytes[..]) {
                check_header(&header, None);
            }
        }
        Input::Items(edits) => {
            let mut header = chain.header.clone();
            let untouched = edits.is_empty();
            for e in edits {
                edit(&mut header, e);
            }
            check_header(&header, None);
            if untouched {
                let parts = split_seal(&header).expect("the honest header splits");
                let digest = check_signature(
                    &GENESIS,
                    &parts.unsealed.hash().0,
                    parts.pre_digest.as_deref(),
                    &parts.seal,
                )
                .expect("the honest seal verifies");
                assert_eq!(digest, chain.digest);
            }
        }
        Input::Parts {
            pre_digest,
            missing,
            seal,
            patches,
            pre_hash,
            parent,
            difficulty,
        } => {
            let mut pre_digest =
                (!missing).then(|| pre_digest.unwrap_or_else(|| chain.digest.encode()));
            let mut seal = seal.unwrap_or_else(|| {
                let parts = split_seal(&chain.header).expect("the honest header splits");
                parts.seal
            });
            for (which, offset, value) in patches {
                let bytes = match (which % 2, pre_digest.as_mut()) {
                    (0, Some(d)) => d,
                    _ => &mut seal,
                };
                if !bytes.is_empty() {
                    let len = bytes.len();
                    bytes[offset as usize % len] = value;
                }
            }
            check_parts(
                &pre_hash.unwrap_or(chain.pre_hash),
                pre_digest.as_deref(),
                &seal,
                &parent.unwrap_or(PARENT),
                difficulty,
            );
        }
    }
});
