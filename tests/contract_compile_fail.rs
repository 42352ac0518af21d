//! The compile-time contract between the pipeline and the handlers: each case in `tests/ui/fail`
//! must fail to compile with the committed message (its leading comment says why), and each case
//! in `tests/ui/pass` must compile and run. Regenerate messages with `TRYBUILD=overwrite`, then
//! read every `.stderr`.

#[test]
fn contract_compile_fail() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
