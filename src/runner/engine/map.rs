//! The states that run nested machines in this execution: an inline Map (items, ItemSelector,
//! MaxConcurrency on the virtual clock) and a Parallel. A Distributed Map is [`super::distributed`].

use super::*;
use asl::limits::INLINE_MAP_MAX_CONCURRENCY;

impl Run<'_> {
    pub(super) async fn map(
        &self,
        frame: Frame<'_>,
        name: &str,
        m: &MapState,
        effective: &Value,
        clock: &mut Duration,
        retry_count: u32,
    ) -> Result<Value, StateError> {
        if m.is_distributed() {
            return self
                .distributed_map(frame, name, m, effective, clock, retry_count)
                .await;
        }
        let at = frame.at_attempt(name, *clock, retry_count);
        let max_concurrency = self.max_concurrency(frame, at, m, effective)?;
        let items = self.items(frame, at, m, effective)?;
        frame.history.add(1)?; // MapStateStarted
        self.observer().map_started(name, items.len());
        let concurrency = match max_concurrency {
            0 => INLINE_MAP_MAX_CONCURRENCY as usize,
            n => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(INLINE_MAP_MAX_CONCURRENCY as usize),
        };
        // Virtual time: each slot is free from some instant; an iteration starts at the earliest.
        let slots = Mutex::new(BinaryHeap::from(vec![Reverse(*clock); concurrency]));
        let processor = Machine::from(&m.item_processor.branch);
        let mut inputs = Vec::with_capacity(items.len());
        for (index, value) in items.iter().enumerate() {
            inputs.push(self.select_item(frame, m, effective, at, index, value)?);
        }
        let slots = &slots;
        let mut iterations = futures::stream::iter(inputs.into_iter().enumerate())
            .map(|(index, input)| async move {
                let Reverse(mut iteration_clock) = slots
                    .lock()
                    .expect("slots poisoned")
                    .pop()
                    .expect("one slot per running iteration");
                let output = async {
                    frame.history.add(1)?; // MapIterationStarted
                    let output = self
                        .run_machine(frame, processor, input, &mut iteration_clock)
                        .await?;
                    frame.history.add(1)?; // MapIterationSucceeded
                    self.observer().iteration_finished(name, 1, Some(&output));
                    Ok::<_, StateError>(output)
                }
                .await;
                slots
                    .lock()
                    .expect("slots poisoned")
                    .push(Reverse(iteration_clock));
                (index, output, iteration_clock)
            })
            .buffer_unordered(concurrency);
        let mut results = vec![Value::Null; items.len()];
        let mut end = at.clock;
        while let Some((index, output, finished)) = iterations.next().await {
            end = end.max(finished);
            match output {
                Ok(output) => results[index] = output,
                // The first failed iteration fails the Map (at the virtual time it failed);
                // dropping the stream aborts the others.
                Err(error) => {
                    *clock = end;
                    frame.history.events.fetch_add(1, Ordering::Relaxed); // MapStateFailed
                    return Err(error);
                }
            }
        }
        *clock = end;
        // After the iterations' events, so the ids of the events after it are AWS's.
        frame.history.add(1)?; // MapStateSucceeded
        Ok(Value::Array(results))
    }

    /// The input of the iteration over item `index`: the ItemSelector evaluated with
    /// `$$.Map.Item`, or the item itself.
    pub(super) fn select_item(
        &self,
        frame: Frame<'_>,
        m: &MapState,
        effective: &Value,
        at: At<'_>,
        index: usize,
        value: &Value,
    ) -> Result<Value, StateError> {
        let Some(selector) = &m.item_selector else {
            return Ok(value.clone());
        };
        let at = At {
            item: Some(CurrentItem { index, value }),
            ..at
        };
        match frame.language {
            QueryLanguage::JsonPath => self.expand(selector, effective, at),
            QueryLanguage::Jsonata => {
                let template = serde_json::to_value(selector).expect("a template serializes");
                self.jsonata(
                    frame,
                    at,
                    "ItemSelector",
                    &template,
                    StatesView::of_input(effective),
                )
            }
        }
    }

    /// The items a Map iterates. JSONPath: what its ItemsPath (default `$`) selects. JSONata:
    /// its Items evaluated (default the input). Either must be an array.
    pub(super) fn items(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        m: &MapState,
        effective: &Value,
    ) -> Result<Vec<Value>, StateError> {
        if frame.language == QueryLanguage::JsonPath {
            return items_at(m, effective, frame.variables);
        }
        let items = match &m.items {
            None => effective.clone(),
            Some(items) => {
                self.jsonata(frame, at, "Items", items, StatesView::of_input(effective))?
            }
        };
        match (items, &m.items) {
            (Value::Array(items), _) => Ok(items),
            (other, Some(Value::String(expression))) => Err(query_failed(
                frame,
                at.state,
                eval::jsonata::QueryError::unexpected_type(
                    JsonataString::new(expression.clone())
                        .as_ref()
                        .map_or(expression.as_str(), JsonataString::expression),
                    "Items",
                    "array",
                    &other,
                ),
            )),
            (other, _) => Err(query_error(
                frame,
                at.state,
                format!("Map state input must be an array but was: {other}"),
            )),
        }
    }

    /// A Map's MaxConcurrency: written, read by its MaxConcurrencyPath or (JSONata) evaluated;
    /// 0 means no limit of its own.
    pub(super) fn max_concurrency(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        m: &MapState,
        effective: &Value,
    ) -> Result<u64, StateError> {
        let Some(limit) = &m.max_concurrency else {
            return Ok(0);
        };
        let max = self.with_setting_reader(frame, at, effective, |reader| {
            reader.non_negative("MaxConcurrency", limit)
        })?;
        Ok(max.unwrap_or(0))
    }

    pub(super) async fn parallel(
        &self,
        frame: Frame<'_>,
        name: &str,
        p: &ParallelState,
        effective: &Value,
        clock: &mut Duration,
        retry_count: u32,
    ) -> Result<Value, StateError> {
        let at = frame.at_attempt(name, *clock, retry_count);
        let input = self
            .request(
                frame,
                at,
                "Arguments",
                (p.parameters.as_ref(), p.arguments.as_ref()),
                effective,
            )?
            .unwrap_or_else(|| effective.clone());
        frame.history.add(1)?; // ParallelStateStarted
        let start = *clock;
        let branches = p.branches.iter().map(|branch| {
            let input = input.clone();
            async move {
                let mut branch_clock = start;
                let output = self
                    .run_machine(frame, Machine::from(branch), input, &mut branch_clock)
                    .await?;
                Ok::<_, StateError>((output, branch_clock))
            }
        });
        let mut outputs = Vec::with_capacity(p.branches.len());
        for result in futures::future::join_all(branches).await {
            let (output, finished) = result.inspect_err(|_| {
                frame.history.events.fetch_add(1, Ordering::Relaxed); // ParallelStateFailed
            })?;
            *clock = (*clock).max(finished);
            outputs.push(output);
        }
        frame.history.add(1)?; // ParallelStateSucceeded
        Ok(Value::Array(outputs))
    }
}

/// The items a JSONPath Map iterates: what its ItemsPath (default `$`) selects, which must be
/// an array.
pub(super) fn items_at(
    m: &MapState,
    effective: &Value,
    variables: &Variables,
) -> Result<Vec<Value>, StateError> {
    let selected = match &m.items_path {
        None | Some(DataPath::Null) => Some(effective.clone()),
        Some(DataPath::Reference(path)) => path.resolve(effective, variables).cloned(),
        Some(DataPath::Select(path)) => path.select_in(effective, variables),
    };
    // AWS's wording: a path that selects nothing as for InputPath; a value that is not an
    // array as AWS words it for a Map's items ("Map state input must be an array but was: 1").
    match (selected, &m.items_path) {
        (Some(Value::Array(items)), _) => Ok(items),
        (Some(other), _) => Err(StateError::runtime(format!(
            "Map state input must be an array but was: {other}"
        ))),
        (None, Some(DataPath::Reference(path))) => Err(StateError::runtime(format!(
            "Invalid path '{path}' : {}",
            path.not_found_in(effective)
        ))),
        (None, path) => Err(StateError::runtime(format!(
            "Invalid path '{}' : No results for path: {0}",
            path.as_ref()
                .map_or_else(|| "$".to_owned(), ToString::to_string)
        ))),
    }
}
