//! The compile-time contract between the pipeline and the handlers: each case in `tests/ui/fail`
//! must fail to compile with the committed message (its leading comment says why), and each case
//! in `tests/ui/pass` must compile and run. Regenerate messages with `TRYBUILD=overwrite`, then
//! read every `.stderr`.

#[test]
fn contract_compile_fail() {
    // trybuild builds every dependency again from a manifest of its own, without our `[profile]`:
    // with debug info that build alone wrote 4.2 GB. Its cargo inherits this environment.
    // SAFETY: this binary has this one test, so no other thread reads the environment.
    unsafe { std::env::set_var("CARGO_PROFILE_DEV_DEBUG", "false") };
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
