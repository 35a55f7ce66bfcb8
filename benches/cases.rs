//! Named benchmark cases shared by criterion and by the instruction counter.
//!
//! Wall-clock figures on a shared two-core VM drift by ±30% between runs, so each bench
//! can also run one case a fixed number of times under callgrind
//! (`benches/instructions.py`), which counts instructions: the same figure on every run.
//! Included by each bench file with `#[path]`.

use std::hint::black_box;

use criterion::Criterion;

/// One measured operation, by name (`group/operation/implementation`).
pub(crate) struct Case<'a> {
    pub(crate) name: String,
    pub(crate) run: Box<dyn FnMut() + 'a>,
}

impl<'a> Case<'a> {
    pub(crate) fn new<R>(name: impl Into<String>, mut f: impl FnMut() -> R + 'a) -> Self {
        Case {
            name: name.into(),
            run: Box::new(move || {
                black_box(f());
            }),
        }
    }
}

/// Runs the cases: under criterion by default; with `APIERR_BENCH_LIST` set, prints their
/// names; with `APIERR_BENCH_CASE` and `APIERR_BENCH_ITERS` set, runs that one case that
/// many times and nothing else.
pub(crate) fn main(mut cases: Vec<Case<'_>>) {
    if std::env::var_os("APIERR_BENCH_LIST").is_some() {
        for case in &cases {
            println!("{}", case.name);
        }
        return;
    }
    if let Ok(name) = std::env::var("APIERR_BENCH_CASE") {
        let iters: u64 = std::env::var("APIERR_BENCH_ITERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .expect("APIERR_BENCH_ITERS: a number of iterations");
        let case = cases
            .iter_mut()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case {name}"));
        for _ in 0..iters {
            (case.run)();
        }
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    for case in &mut cases {
        c.bench_function(&case.name, |b| b.iter(&mut case.run));
    }
    c.final_summary();
}
