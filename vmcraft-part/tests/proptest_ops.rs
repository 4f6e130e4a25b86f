//! Property tests: random sequences of add, delete and resize on both table
//! types.
//!
//! - Tier 1, many cases: every call is checked against a small reference model
//!   of the rules (bounds, overlaps, four primaries, one extended, room for each
//!   EBR, numbering); the crate must accept exactly what the model accepts, list
//!   exactly what the model holds, and leave the disk byte-identical whenever it
//!   refuses. No listed partitions ever overlap.
//! - Tier 2, fewer cases: the same sequences on image files, and at the end
//!   `sgdisk -v` / `sfdisk --verify` find no problem and `sfdisk --json` shows
//!   the same layout.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use vmcraft_block::MemoryDisk;
use vmcraft_block::testing::TestEnv;
use vmcraft_part::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    P,
    L,
    E,
}

#[derive(Debug, Clone)]
enum Op {
    Add(Kind, u64, u64),
    Del(u32),
    Resize(u32, u64),
}

fn ops(sectors: u64, msdos: bool) -> impl Strategy<Value = Vec<Op>> {
    let kind = if msdos {
        prop_oneof![3 => Just(Kind::P), 1 => Just(Kind::E), 4 => Just(Kind::L)].boxed()
    } else {
        Just(Kind::P).boxed()
    };
    let add = (kind, 0..sectors, 1..sectors / 3)
        .prop_map(move |(k, s, len)| Op::Add(k, s, (s + len - 1).min(sectors + 5)));
    let del = (1u32..10).prop_map(Op::Del);
    let resize = (1u32..10, 0..sectors + 5).prop_map(|(n, e)| Op::Resize(n, e));
    prop::collection::vec(prop_oneof![5 => add, 2 => del, 2 => resize], 1..24)
}

/// The rules, stated as simply as possible.
#[derive(Debug, Clone)]
enum Model {
    Gpt {
        parts: BTreeMap<u32, (u64, u64)>,
        last: u64,
    },
    Msdos {
        prim: [Option<(u64, u64, bool)>; 4],
        logicals: Vec<(u64, u64)>,
        last: u64,
    },
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

impl Model {
    fn new(msdos: bool, sectors: u64) -> Self {
        if msdos {
            Model::Msdos {
                prim: [None; 4],
                logicals: Vec::new(),
                last: sectors - 1,
            }
        } else {
            Model::Gpt {
                parts: BTreeMap::new(),
                last: sectors - 34,
            }
        }
    }

    fn extended(prim: &[Option<(u64, u64, bool)>; 4]) -> Option<(u64, u64)> {
        prim.iter().flatten().find(|p| p.2).map(|p| (p.0, p.1))
    }

    /// Apply `op`; `Some(number)` for an accepted add, `Some(0)` for another
    /// accepted op, `None` when the rules refuse it.
    fn apply(&mut self, op: &Op) -> Option<u32> {
        match self {
            Model::Gpt { parts, last } => match *op {
                Op::Add(_, s, e) => {
                    if s < 34 || e > *last || parts.values().any(|&p| overlaps(p, (s, e))) {
                        return None;
                    }
                    let n = (1..=128).find(|n| !parts.contains_key(n))?;
                    parts.insert(n, (s, e));
                    Some(n)
                }
                Op::Del(n) => parts.remove(&n).map(|_| 0),
                Op::Resize(n, e) => {
                    let (s, _) = *parts.get(&n)?;
                    if e < s
                        || e > *last
                        || parts.iter().any(|(&m, &p)| m != n && overlaps(p, (s, e)))
                    {
                        return None;
                    }
                    parts.insert(n, (s, e));
                    Some(0)
                }
            },
            Model::Msdos {
                prim,
                logicals,
                last,
            } => match *op {
                Op::Add(k, s, e) => {
                    if s == 0 || e > *last {
                        return None;
                    }
                    if k == Kind::L {
                        let (es, ee) = Self::extended(prim)?;
                        if s <= es || e > ee || logicals.iter().any(|&l| overlaps(l, (s, e))) {
                            return None;
                        }
                        let mut next = logicals.clone();
                        next.push((s, e));
                        next.sort();
                        if next.windows(2).any(|w| w[1].0 - 1 <= w[0].1) {
                            return None;
                        }
                        *logicals = next;
                        let i = logicals.iter().position(|l| l.0 == s).unwrap();
                        return Some(5 + i as u32);
                    }
                    if k == Kind::E && Self::extended(prim).is_some() {
                        return None;
                    }
                    if prim.iter().flatten().any(|p| overlaps((p.0, p.1), (s, e))) {
                        return None;
                    }
                    let slot = prim.iter().position(Option::is_none)?;
                    prim[slot] = Some((s, e, k == Kind::E));
                    Some(slot as u32 + 1)
                }
                Op::Del(n) if n <= 4 => {
                    let p = prim[n as usize - 1].take()?;
                    if p.2 {
                        logicals.clear();
                    }
                    Some(0)
                }
                Op::Del(n) => {
                    let i = n as usize - 5;
                    (i < logicals.len()).then(|| {
                        logicals.remove(i);
                        0
                    })
                }
                Op::Resize(n, e) if n <= 4 => {
                    let (s, _, ext) = prim[n as usize - 1]?;
                    let clash = prim.iter().enumerate().any(|(i, p)| {
                        i != n as usize - 1 && p.is_some_and(|p| overlaps((p.0, p.1), (s, e)))
                    });
                    let holds = !ext || logicals.iter().all(|l| l.1 <= e);
                    if e < s || e > *last || clash || !holds {
                        return None;
                    }
                    prim[n as usize - 1] = Some((s, e, ext));
                    Some(0)
                }
                Op::Resize(n, e) => {
                    let i = n as usize - 5;
                    let (s, _) = *logicals.get(i)?;
                    let (_, ee) = Self::extended(prim)?;
                    let room = logicals.get(i + 1).is_none_or(|next| e < next.0 - 1);
                    if e < s || e > ee || !room {
                        return None;
                    }
                    logicals[i].1 = e;
                    Some(0)
                }
            },
        }
    }

    /// (number, first sector, last sector), by number.
    fn list(&self) -> Vec<(i32, u64, u64)> {
        let mut out: Vec<(i32, u64, u64)> = match self {
            Model::Gpt { parts, .. } => {
                parts.iter().map(|(&n, &(s, e))| (n as i32, s, e)).collect()
            }
            Model::Msdos { prim, logicals, .. } => prim
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.map(|p| (i as i32 + 1, p.0, p.1)))
                .chain(
                    logicals
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (i as i32 + 5, l.0, l.1)),
                )
                .collect(),
        };
        out.sort();
        out
    }
}

fn call(dev: &dyn vmcraft_block::BlockDevice, op: &Op) -> Result<u32> {
    match *op {
        Op::Add(k, s, e) => {
            let kind = match k {
                Kind::P => "p",
                Kind::L => "l",
                Kind::E => "e",
            };
            part_add(dev, kind, s as i64, e as i64)?;
            // The number of what was added: the partition starting at s.
            Ok(part_list(dev)?
                .iter()
                .find(|p| p.part_start == s * 512)
                .map(|p| p.part_num as u32)
                .unwrap_or(u32::MAX))
        }
        Op::Del(n) => part_del(dev, n as i32).map(|_| 0),
        Op::Resize(n, e) => part_resize(dev, n as i32, e as i64).map(|_| 0),
    }
}

/// (number, first sector, last sector), by number.
fn listed(dev: &dyn vmcraft_block::BlockDevice) -> Vec<(i32, u64, u64)> {
    let mut rows: Vec<(i32, u64, u64)> = part_list(dev)
        .unwrap()
        .iter()
        .map(|p| (p.part_num, p.part_start / 512, p.part_end / 512))
        .collect();
    rows.sort();
    rows
}

/// No two listed partitions overlap, except logical partitions inside the
/// extended one.
fn assert_no_overlap(rows: &[(i32, u64, u64)], ext: Option<i32>) {
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            let nested = |x: &(i32, u64, u64), y: &(i32, u64, u64)| {
                Some(x.0) == ext && y.0 >= 5 && x.1 < y.1 && y.2 <= x.2
            };
            if nested(a, b) || nested(b, a) {
                continue;
            }
            assert!(!overlaps((a.1, a.2), (b.1, b.2)), "{a:?} overlaps {b:?}");
        }
    }
}

fn run_against_model(msdos: bool, sectors: u64, ops: &[Op]) {
    let disk = MemoryDisk::new(sectors * 512);
    part_init(&disk, if msdos { "msdos" } else { "gpt" }).unwrap();
    let mut model = Model::new(msdos, sectors);
    for op in ops {
        let before = disk.snapshot();
        let expected = model.clone().apply(op);
        let got = call(&disk, op);
        match (expected, &got) {
            (Some(n), Ok(m)) => {
                model.apply(op);
                if matches!(op, Op::Add(..)) {
                    assert_eq!(n, *m, "{op:?}: numbered differently");
                }
            }
            (None, Err(e)) => {
                assert!(
                    matches!(e.kind(), ErrorKind::Layout | ErrorKind::NotFound),
                    "{op:?}: {e}"
                );
                assert!(
                    disk.snapshot() == before,
                    "{op:?} was refused but changed the disk"
                );
            }
            (Some(_), Err(e)) => panic!("{op:?}: the model accepts it, the crate refused: {e}"),
            (None, Ok(_)) => panic!("{op:?}: the model refuses it, the crate accepted it"),
        }
        let rows = listed(&disk);
        assert_eq!(rows, model.list(), "after {op:?}");
        let ext = match &model {
            Model::Msdos { prim, .. } => prim
                .iter()
                .position(|p| p.is_some_and(|p| p.2))
                .map(|i| i as i32 + 1),
            Model::Gpt { .. } => None,
        };
        assert_no_overlap(&rows, ext);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn gpt_follows_the_model(ops in ops(4096, false)) {
        run_against_model(false, 4096, &ops);
    }

    #[test]
    fn msdos_follows_the_model(ops in ops(4096, true)) {
        run_against_model(true, 4096, &ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_keep_the_tools_happy(msdos in any::<bool>(), ops in ops(32768, true)) {
        if !common::oracles() {
            return Ok(());
        }
        let env = TestEnv::new("part-prop");
        let (img, dev) = common::image(&env, "prop.img", 32768 * 512);
        part_init(&dev, if msdos { "msdos" } else { "gpt" }).unwrap();
        for op in &ops {
            let op = match (msdos, op) {
                (false, Op::Add(_, s, e)) => Op::Add(Kind::P, *s, *e),
                (_, op) => op.clone(),
            };
            let _ = call(&dev, &op);
        }
        let ours: Vec<(u32, u64, u64)> = listed(&dev)
            .iter()
            .map(|&(n, s, e)| (n as u32, s, e - s + 1))
            .collect();
        if msdos {
            common::sfdisk_verify(&img);
        } else {
            common::sgdisk_verify(&img);
        }
        if !ours.is_empty() {
            let theirs: Vec<(u32, u64, u64)> = common::sfdisk_parts(&img)
                .into_iter()
                .map(|(n, s, size, _)| (n, s, size))
                .collect();
            prop_assert_eq!(ours, theirs);
        }
    }
}
