//! Attach + detach cycle benchmarks (filled in below as the backends land).

use criterion::{Criterion, criterion_group, criterion_main};

fn attach_detach(_c: &mut Criterion) {}

criterion_group!(benches, attach_detach);
criterion_main!(benches);
