//! The cm-etl-pipeline-phase2 state machine, written with the ASL model.
