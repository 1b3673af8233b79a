/* The decision calculators of the decomposition, parallelism and interruptible guides.

   Plain JavaScript: no library, no request. A guide holds
   <div class="calculator-app" data-calculator="NAME">; this script builds the form in it,
   computes on every edit, keeps the inputs in the page URL's query string (so a filled-in
   calculator can be shared) and reads them back on load.

   The models are the Python functions of evidence/models/, mirrored one for one: each
   function below has the name of the Python function it mirrors, and keeps its operations in
   the same order, so that the same IEEE arithmetic gives the same numbers.
   tests/test_calculators.py runs both on a grid of inputs and requires them to agree, and
   checks every sentence a calculator says against the table beside it.

   window.calculatorInputs (_static/calculator-inputs.js, written by the build) holds each
   model's defaults: what its evidence page prints, and where each calculator starts.
*/
"use strict";
(() => {
  // ==========================================================================================
  // Models

  // ---- evidence/models/parallelism.py: batch size, wall time and pod-minutes on a cluster --
  const parallelism = (() => {
    const MIN_WORK_PER_START_UP = 10;

    // tasks_for
    function tasks_for(items, batch_size) {
      return Math.ceil(items / batch_size);
    }

    // wall_time_s: task k starts at q * max(task_s, concurrency / rate) + r / rate,
    // q, r = divmod(k, concurrency); the last task's start plus its duration.
    function wall_time_s(items, batch_size, seconds_per_item, start_up_s, concurrency,
                         launch_rate_per_s) {
      const tasks = tasks_for(items, batch_size);
      const task_s = start_up_s + batch_size * seconds_per_item;
      const gap = 1.0 / launch_rate_per_s;
      const rest = (tasks - 1) % concurrency;  // divmod(tasks - 1, concurrency), exactly
      const rounds = (tasks - 1 - rest) / concurrency;
      return rounds * Math.max(task_s, concurrency * gap) + rest * gap + task_s;
    }

    // pod_minutes: every task's start-up plus all the compute
    function pod_minutes(items, batch_size, seconds_per_item, start_up_s) {
      const tasks = tasks_for(items, batch_size);
      return (tasks * start_up_s + items * seconds_per_item) / 60.0;
    }

    // fastest_batch_size: the one-round batch with the shortest wall time, the larger one
    // on a tie (task counts are tried in increasing order, batches shrink)
    function fastest_batch_size(items, seconds_per_item, start_up_s, concurrency,
                                launch_rate_per_s) {
      let best_batch = items;
      let best_wall = Infinity;
      const most = Math.min(items, concurrency);
      for (let tasks = 1; tasks <= most; tasks++) {
        const batch = Math.ceil(items / tasks);
        const wall = wall_time_s(items, batch, seconds_per_item, start_up_s, concurrency,
                                 launch_rate_per_s);
        if (wall < best_wall) {
          best_batch = batch;
          best_wall = wall;
        }
      }
      return best_batch;
    }

    // batch_size_to_use: the fastest batch, unless its tasks compute for under 10x their
    // start-up
    function batch_size_to_use(items, seconds_per_item, start_up_s, concurrency,
                               launch_rate_per_s) {
      const floor = Math.ceil(MIN_WORK_PER_START_UP * start_up_s / seconds_per_item);
      const fastest = fastest_batch_size(items, seconds_per_item, start_up_s, concurrency,
                                         launch_rate_per_s);
      return Math.min(items, Math.max(fastest, floor));
    }

    // describe: one batch size, as the Python model's describe (the evidence page prints it)
    function describe(batch_size, inputs) {
      const {items, seconds_per_item, start_up_s, concurrency, launch_rate_per_s} = inputs;
      const wall_min = wall_time_s(items, batch_size, seconds_per_item, start_up_s,
                                   concurrency, launch_rate_per_s) / 60;
      const cost = pod_minutes(items, batch_size, seconds_per_item, start_up_s);
      const tasks = tasks_for(items, batch_size);
      return `${fixed(batch_size, 0)} per task, ${fixed(tasks, 0)} tasks, ` +
             `${fixed(wall_min, 1)} min, ${fixed(cost, 0)} pod-min`;
    }

    return {MIN_WORK_PER_START_UP, tasks_for, wall_time_s, pod_minutes, fastest_batch_size,
            batch_size_to_use, describe};
  })();

  // ---- evidence/models/interruptible.py: expected cost and time on spot --------------------
  // Stages are {name, minutes, interruptible}; estimates are {cost, hours}.
  const interruptible = (() => {
    const MAX_RATE = 1000.0;
    const MAX_SPOT_ATTEMPTS = 20;

    // validate: the same bounds and messages as the Python (which raises ValueError)
    function validate(stages, spot_price_ratio, preemptions_per_hour, spot_attempts,
                      overhead_minutes) {
      if (!stages.length) throw new Error("stages must not be empty");
      for (const s of stages) {
        if (!(0 <= s.minutes && s.minutes <= 10000)) {
          throw new Error(`${s.name}: minutes must be between 0 and 10000, got ${s.minutes}`);
        }
      }
      const checks = [["spot_price_ratio", spot_price_ratio, 0, 1],
                      ["preemptions_per_hour", preemptions_per_hour, 0, MAX_RATE],
                      ["spot_attempts", spot_attempts, 0, MAX_SPOT_ATTEMPTS],
                      ["overhead_minutes", overhead_minutes, 0, 600]];
      for (const [name, value, low, high] of checks) {
        if (!(low <= value && value <= high)) {  // also rejects NaN
          throw new Error(`${name} must be between ${low} and ${high}, got ${value}`);
        }
      }
      if (!Number.isInteger(spot_attempts)) {
        throw new Error(`spot_attempts must be a whole number, got ${spot_attempts}`);
      }
    }

    // expected_unit: one task of `minutes`, overhead included: up to `spot_attempts`
    // attempts on spot, then one on demand
    function expected_unit(minutes, interruptible, preemptions_per_hour, spot_price_ratio,
                           spot_attempts) {
      const hours = minutes / 60;
      if (!interruptible || spot_attempts === 0) return {cost: hours, hours};
      if (preemptions_per_hour === 0) return {cost: spot_price_ratio * hours, hours};
      const hit = -Math.expm1(-preemptions_per_hour * hours);  // P(an attempt is preempted)
      const hours_per_spot_attempt = hit / preemptions_per_hour;  // E[min(time to hit, hours)]
      let spot_attempts_made = 0;  // sum(hit**i for i in range(spot_attempts))
      for (let i = 0; i < spot_attempts; i++) spot_attempts_made += hit ** i;
      const spot_hours = hours_per_spot_attempt * spot_attempts_made;
      const on_demand_hours = hit ** spot_attempts * hours;
      return {cost: spot_price_ratio * spot_hours + on_demand_hours,
              hours: spot_hours + on_demand_hours};
    }

    // units: [minutes with overhead, interruptible] for each task the pipeline shape runs
    function units(stages, fine_grained, overhead_minutes) {
      if (fine_grained) return stages.map(s => [s.minutes + overhead_minutes, s.interruptible]);
      const total = stages.reduce((sum, s) => sum + s.minutes, 0) + overhead_minutes;
      return [[total, stages.some(s => s.interruptible)]];
    }

    // on_spot
    function on_spot(stages, {fine_grained, spot_price_ratio, preemptions_per_hour,
                              spot_attempts, overhead_minutes}) {
      validate(stages, spot_price_ratio, preemptions_per_hour, spot_attempts,
               overhead_minutes);
      const parts = units(stages, fine_grained, overhead_minutes).map(
        ([minutes, interruptible]) => expected_unit(minutes, interruptible,
                                                    preemptions_per_hour, spot_price_ratio,
                                                    spot_attempts));
      return {cost: parts.reduce((sum, p) => sum + p.cost, 0),
              hours: parts.reduce((sum, p) => sum + p.hours, 0)};
    }

    // on_demand
    function on_demand(stages, {fine_grained, overhead_minutes}) {
      validate(stages, 1, 0, 0, overhead_minutes);
      const hours = units(stages, fine_grained, overhead_minutes)
        .reduce((sum, [minutes]) => sum + minutes, 0) / 60;
      return {cost: hours, hours};
    }

    // break_even_rate: the lowest rate at which spot costs as much as on demand; 0 if spot
    // never saves, Infinity if not reached by MAX_RATE. Scans 100 rates per decade from
    // 1e-6 per node-hour, then bisects 60 times, as the Python does.
    function break_even_rate(stages, {fine_grained, spot_price_ratio, spot_attempts,
                                      overhead_minutes}) {
      const target = on_demand(stages, {fine_grained, overhead_minutes}).cost;
      const excess = rate => on_spot(stages, {
        fine_grained, spot_price_ratio, preemptions_per_hour: rate, spot_attempts,
        overhead_minutes}).cost - target;
      if (excess(0.0) >= 0) return 0.0;
      let below = 0.0;
      for (let i = 0; i < 901; i++) {  // 1e-6 to 1e3 per node-hour
        const rate = 10 ** (-6 + i / 100);
        if (excess(rate) >= 0) {
          let above = rate;
          for (let j = 0; j < 60; j++) {
            const middle = (below + above) / 2;
            if (excess(middle) < 0) below = middle;
            else above = middle;
          }
          return above;
        }
        below = rate;
      }
      return Infinity;
    }

    return {MAX_RATE, MAX_SPOT_ATTEMPTS, validate, expected_unit, units, on_spot, on_demand,
            break_even_rate};
  })();

  // ---- evidence/models/decomposition.py: when do two tasks beat one? Steps are
  //      {seconds, cpu, memory_gib}; overhead is {pod_start_s,
  //      transfer_mb_per_s, usd_per_cpu_hour, usd_per_gib_hour}; choices {seconds, usd}. -----
  const decomposition = (() => {
    // usd_per_second
    function usd_per_second(cpu, memory_gib, overhead) {
      const hourly = cpu * overhead.usd_per_cpu_hour + memory_gib * overhead.usd_per_gib_hour;
      return hourly / 3600;
    }

    // transfer_seconds
    function transfer_seconds(handoff_bytes, overhead) {
      return handoff_bytes / (overhead.transfer_mb_per_s * 1e6);
    }

    // keep_together: one task, one pod start, no hand-off, sized for the larger step
    function keep_together(first, second, overhead) {
      const rate = usd_per_second(Math.max(first.cpu, second.cpu),
                                  Math.max(first.memory_gib, second.memory_gib), overhead);
      const seconds = overhead.pod_start_s + first.seconds + second.seconds;
      return {seconds, usd: seconds * rate};
    }

    // split: two tasks, two pod starts, an upload, a download; each pod sized for its step
    function split(first, second, handoff_bytes, overhead) {
      const transfer = transfer_seconds(handoff_bytes, overhead);
      const first_pod = overhead.pod_start_s + first.seconds + transfer;  // uploads at its end
      const second_pod = overhead.pod_start_s + transfer + second.seconds;  // downloads first
      let usd = first_pod * usd_per_second(first.cpu, first.memory_gib, overhead);
      usd += second_pod * usd_per_second(second.cpu, second.memory_gib, overhead);
      return {seconds: first_pod + second_pod, usd};
    }

    // rerun_split: a re-run with a new input for the second step only (the first is a
    // cache hit)
    function rerun_split(second, handoff_bytes, overhead) {
      let seconds = overhead.pod_start_s + transfer_seconds(handoff_bytes, overhead);
      seconds += second.seconds;
      const rate = usd_per_second(second.cpu, second.memory_gib, overhead);
      return {seconds, usd: seconds * rate};
    }

    // break_even_seconds: for each step ("first", "second"), how long it must run, the
    // other as given, for two tasks to cost no more than one; null for a step that needs as
    // much as the one-task pod, 0 when the split is cheaper at any run time of that step
    function break_even_seconds(first, second, handoff_bytes, overhead) {
      const together = usd_per_second(Math.max(first.cpu, second.cpu),
                                      Math.max(first.memory_gib, second.memory_gib), overhead);
      const result = {};
      for (const name of ["first", "second"]) {
        const step = name === "first" ? first : second;
        const alone = usd_per_second(step.cpu, step.memory_gib, overhead);
        if (together <= alone) {
          result[name] = null;
          continue;
        }
        const instant = {seconds: 0.0, cpu: step.cpu, memory_gib: step.memory_gib};
        const pair = name === "first" ? [instant, second] : [first, instant];
        let extra = split(...pair, handoff_bytes, overhead).usd;
        extra -= keep_together(...pair, overhead).usd;
        result[name] = Math.max(0.0, extra / (together - alone));  // cost lines cross here
      }
      return result;
    }

    // break_even_second_seconds
    function break_even_second_seconds(first, second, handoff_bytes, overhead) {
      return break_even_seconds(first, second, handoff_bytes, overhead).second;
    }

    // reruns_to_repay: second-step-only re-runs after which the split has saved wall time
    // overall, 0 when two tasks are not slower per run; null when a re-run of the split is
    // not faster
    function reruns_to_repay(first, second, handoff_bytes, overhead) {
      let lost = split(first, second, handoff_bytes, overhead).seconds;
      lost -= keep_together(first, second, overhead).seconds;
      let saved = keep_together(first, second, overhead).seconds;
      saved -= rerun_split(second, handoff_bytes, overhead).seconds;
      return saved > 0 ? Math.max(0, Math.ceil(lost / saved)) : null;
    }

    return {usd_per_second, transfer_seconds, keep_together, split, rerun_split,
            break_even_seconds, break_even_second_seconds, reruns_to_repay};
  })();

  // ==========================================================================================
  // Formatting and parsing

  // Python's format(x, ",.Nf"): the exact binary value rounded half to even (toFixed rounds
  // a tie up), digits grouped by commas. toFixed(100) is exact for |x| >= 1e-14, and below
  // that no tie can occur at the 0 to 3 decimals shown here.
  function fixed(x, digits, grouping = true) {
    const full = Math.abs(x).toFixed(100);
    const point = full.indexOf(".");
    let kept = BigInt(full.slice(0, point) + full.slice(point + 1, point + 1 + digits));
    const next = full[point + 1 + digits];
    const tail = full.slice(point + 2 + digits);
    if (next > "5" || (next === "5" && (/[1-9]/.test(tail) || kept % 2n === 1n))) kept += 1n;
    const text = kept.toString().padStart(digits + 1, "0");
    let whole = text.slice(0, text.length - digits);
    if (grouping) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (x < 0 ? "-" : "") + whole + (digits ? "." + text.slice(text.length - digits) : "");
  }

  const plural = (n, noun) => `${fixed(n, 0)} ${noun}${n === 1 ? "" : "s"}`;

  // A duration as a reader reads one: seconds up to two minutes, minutes up to two hours,
  // then hours, one decimal, digits grouped (3,333.9 min reads as 55.6 h).
  function duration(seconds) {
    if (seconds < 120) return `${fixed(seconds, 1)} s`;
    if (seconds < 7200) return `${fixed(seconds / 60, 1)} min`;
    return `${fixed(seconds / 3600, 1)} h`;
  }

  // A number in a message: 2,000,000 or 0.000001.
  function plain(x) {
    return x.toLocaleString("en-US", {maximumFractionDigits: 12});
  }

  // Preemption rates span ten decades: two decimals, or two significant digits when small.
  function rate(x) {
    return x >= 0.01 ? fixed(x, 2) : x.toExponential(1);
  }

  const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

  // A field's text -> {value} or {error: a one-line message}. `field` gives its bounds:
  // min, max, positive (more than 0: the model divides by it), integer.
  function parse(field, raw) {
    const text = raw.trim();
    if (text === "") return {error: "Enter a number."};
    if (text.length > 30) return {error: "Too long for a number."};
    if (text.includes(",")) {
      return {error: "Write it without commas, with a point for decimals: 2000000 or 2e6."};
    }
    if (!NUMBER.test(text)) return {error: "Not a number: write digits, like 0.02 or 2e6."};
    const value = Number(text);
    if (field.integer && Number.isFinite(value) && !Number.isInteger(value)) {
      return {error: "Enter a whole number."};
    }
    if (field.positive && value <= 0) {
      return {error: "Must be more than 0: the model divides by it."};
    }
    if (value < field.min) return {error: `Must be at least ${plain(field.min)}.`};
    if (!(value <= field.max)) {  // Infinity (1e400) too
      return {error: `Must be at most ${plain(field.max)}${field.why ? ": " + field.why : ""}.`};
    }
    return {value};
  }

  // ==========================================================================================
  // Building the page

  // h("p", {class: "x"}, "text", child): an element; text children are text nodes, so
  // nothing from the URL is ever parsed as HTML.
  function h(tag, attributes = {}, ...children) {
    const svg = ["svg", "path", "circle", "rect", "line", "text", "g", "title"].includes(tag);
    const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag)
                   : document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const srOnly = text => h("span", {class: "calc-sr"}, text);

  // A labelled text field with its unit in the label and a message slot it is described by.
  // Returns {el, input, field, read()}; read() marks the field and returns {value} or {error}.
  function numberField(calc, field) {
    const id = `calc-${calc.name}-${field.key}`;
    const input = h("input", {
      id, name: field.key, type: "text", inputmode: "decimal", autocomplete: "off",
      spellcheck: "false", "aria-describedby": `${id}-message`,
    });
    const message = h("p", {id: `${id}-message`, class: "calc-message"});
    const label = h("label", {for: id}, field.label, " ", h("span", {class: "calc-unit"},
                                                             `(${field.unit})`));
    const el = h("div", {class: "calc-field"}, label, input, message);
    return {
      el, input, field,
      read() {
        const result = parse(field, input.value);
        message.textContent = result.error || "";
        if (result.error) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
        return result;
      },
    };
  }

  function table(head, rows, caption) {
    return h("div", {class: "calc-table-wrap"},
      h("table", {class: "calc-table"},
        caption ? h("caption", {}, caption) : null,
        h("thead", {}, h("tr", {}, head.map((text, i) => text === ""
          ? h("td", {})  // the corner above the row headers: not a header
          : h("th", {scope: "col", class: i ? "calc-num" : null}, text)))),
        h("tbody", {}, rows.map(row => h("tr", {class: row.className || null},
          row.cells.map((cell, i) => {
            // A cell is its text, or [text, a note shown on a line of its own].
            const [text, note] = Array.isArray(cell) ? cell : [cell, null];
            const content = [text, note ? h("span", {class: "calc-cell-note"}, note) : null];
            return i ? h("td", {class: "calc-num"}, content)
                     : h("th", {scope: "row"}, content);
          }))))));
  }

  // ---- A log-log chart, drawn at the width it is shown (text stays at the page's size) ----
  function tickLabel(v) {
    const e = Math.round(Math.log10(v));
    if (e >= 9) return `${10 ** (e - 9)}B`;
    if (e >= 6) return `${10 ** (e - 6)}M`;
    if (e >= 3) return `${10 ** (e - 3)}k`;
    if (e >= -3) return String(Number(v.toPrecision(1)));
    return `1e${e}`;
  }

  function decades(values) {
    let low = Math.floor(Math.log10(Math.min(...values)));
    let high = Math.ceil(Math.log10(Math.max(...values)));
    if (high === low) high += 1;
    return [low, high];
  }

  // panels: [{title, points: [[x, y]], marks: [{x, y, kind}]}], one above the other, sharing
  // the x axis.
  function logChart(width, xLabel, panels, description) {
    const left = 52, right = 14, top = 26, plotHeight = 130, gap = 34, bottom = 44;
    const plotWidth = width - left - right;
    const height = top + panels.length * plotHeight + (panels.length - 1) * (gap + top - 10)
                   + bottom;
    const xs = panels[0].points.map(p => p[0]);
    const [x0, x1] = decades(xs);
    const xAt = x => left + (Math.log10(x) - x0) / (x1 - x0) * plotWidth;
    const step = span => Math.max(1, Math.ceil(span / Math.max(2, Math.floor(plotWidth / 60))));
    const svg = h("svg", {class: "calc-chart", width, height, viewBox: `0 0 ${width} ${height}`,
                          role: "img", "aria-label": description});
    panels.forEach((panel, n) => {
      const y0px = top + n * (plotHeight + gap + top - 10);
      const [lo, hi] = decades(panel.points.map(p => p[1]));
      const yAt = y => y0px + plotHeight - (Math.log10(y) - lo) / (hi - lo) * plotHeight;
      svg.append(h("text", {x: left, y: y0px - 8, class: "calc-chart-title"}, panel.title));
      for (let e = x0; e <= x1; e += step(x1 - x0)) {
        svg.append(h("line", {x1: xAt(10 ** e), x2: xAt(10 ** e), y1: y0px,
                              y2: y0px + plotHeight, class: "calc-grid"}));
        if (n === panels.length - 1) {
          svg.append(h("text", {x: xAt(10 ** e), y: y0px + plotHeight + 16,
                                "text-anchor": "middle"}, tickLabel(10 ** e)));
        }
      }
      const yStep = Math.max(1, Math.ceil((hi - lo) / 4));
      for (let e = lo; e <= hi; e += yStep) {
        svg.append(h("line", {x1: left, x2: left + plotWidth, y1: yAt(10 ** e),
                              y2: yAt(10 ** e), class: "calc-grid"}));
        svg.append(h("text", {x: left - 6, y: yAt(10 ** e) + 4, "text-anchor": "end"},
                     tickLabel(10 ** e)));
      }
      svg.append(h("rect", {x: left, y: y0px, width: plotWidth, height: plotHeight,
                            class: "calc-frame"}));
      const d = panel.points.map(([x, y], i) => `${i ? "L" : "M"}${xAt(x).toFixed(1)} ` +
                                                 `${yAt(y).toFixed(1)}`).join("");
      svg.append(h("path", {d, class: "calc-line"}));
      for (const mark of panel.marks) {
        const cx = xAt(mark.x), cy = yAt(mark.y);
        svg.append(mark.kind === "use"
          ? h("circle", {cx, cy, r: 5.5, class: "calc-mark-use"})
          : h("rect", {x: cx - 4.5, y: cy - 4.5, width: 9, height: 9,
                       class: "calc-mark-fastest"}));
      }
    });
    svg.append(h("text", {x: left + plotWidth / 2, y: height - 8, "text-anchor": "middle"},
                 xLabel));
    return svg;
  }

  // ==========================================================================================
  // The calculators. Each: name, fields (or its own form), defaults(inputs from the build),
  // compute(values) -> {summary: [lines], details: [elements]}.

  const calculators = {};

  calculators.parallelism = {
    name: "parallelism",
    fields: [
      {key: "items", label: "Items to process", unit: "items", integer: true, min: 1,
       max: 1e9, why: "a billion items"},
      {key: "seconds_per_item", label: "Compute per item", unit: "s", positive: true,
       min: 1e-6, max: 86400, why: "a day"},
      {key: "start_up_s", label: "Start-up per task", unit: "s", min: 0, max: 86400,
       why: "a day"},
      {key: "concurrency", label: "Map task concurrency", unit: "tasks at once", integer: true,
       min: 1, max: 1e6, why: "a million"},
      {key: "launch_rate_per_s", label: "Launch rate", unit: "pods per s", positive: true,
       min: 1e-6, max: 1e6, why: "a million"},
    ],
    defaults: data => data.inputs,
    compute(v, width) {
      const m = parallelism;
      const args = [v.items, v.seconds_per_item, v.start_up_s, v.concurrency,
                    v.launch_rate_per_s];
      const use = m.batch_size_to_use(...args);
      const fastest = m.fastest_batch_size(...args);
      const wall = b => m.wall_time_s(v.items, b, v.seconds_per_item, v.start_up_s,
                                      v.concurrency, v.launch_rate_per_s);
      const pods = b => m.pod_minutes(v.items, b, v.seconds_per_item, v.start_up_s);
      const summary = [`Use: ${m.describe(use, v)}.`];
      if (use === fastest) {
        summary.push("That is the fastest batch size.");
      } else if (use === v.items && v.items * v.seconds_per_item <
                 m.MIN_WORK_PER_START_UP * v.start_up_s) {
        summary.push(`Fastest: ${m.describe(fastest, v)}. The whole job computes for less ` +
                     "than 10 times one start-up, so it runs as one task.");
      } else {
        summary.push(`Fastest: ${m.describe(fastest, v)}; its tasks would compute for ` +
                     "less than 10 times their start-up.");
      }
      // Batch sizes for the table: powers of ten, the two picks, all the items.
      const sizes = new Set([use, fastest, v.items]);
      for (let b = 1; b < v.items; b *= 10) sizes.add(b);
      const rows = [...sizes].sort((a, b) => a - b).map(b => ({
        className: b === use ? "calc-pick" : null,
        cells: [[fixed(b, 0), plural(m.tasks_for(v.items, b), "task") +
                 (b === use ? ", use" : b === fastest ? ", fastest" : "")],
                fixed(wall(b) / 60, 1), fixed(pods(b), 0)],
      }));
      const details = [table(["Batch size", "Wall time (min)", "Pod-minutes"], rows,
                             "Wall time and pod-minutes per batch size")];
      if (width > 0) {
        // The curve: 20 batch sizes per decade, as the evidence page's figure draws 40.
        const curve = new Set([1, v.items, use, fastest]);
        for (let k = 0; 10 ** (k / 20) < v.items; k++) curve.add(Math.round(10 ** (k / 20)));
        const xs = [...curve].sort((a, b) => a - b);
        const marks = f => [{x: use, y: f(use), kind: "use"}].concat(
          use === fastest ? [] : [{x: fastest, y: f(fastest), kind: "fastest"}]);
        details.push(logChart(width, "items per task (batch size), log scale", [
          {title: "Wall time (min)", points: xs.map(b => [b, wall(b) / 60]),
           marks: marks(b => wall(b) / 60)},
          {title: "Pod-minutes", points: xs.map(b => [b, pods(b)]), marks: marks(pods)},
        ], "Chart of wall time and pod-minutes against the batch size, on log scales; " +
           "the table above lists the values."));
        details.push(h("p", {class: "calc-legend", "aria-hidden": "true"},
          h("span", {class: "calc-key-use"}), "the batch size to use",
          use === fastest ? null : [h("span", {class: "calc-key-fastest"}), "the fastest"]));
      }
      return {summary, details};
    },
  };

  calculators.interruptible = {
    name: "interruptible",
    maxStages: 8,
    stageField: {key: "minutes", label: "run time", unit: "min", min: 0, max: 10000,
                 why: "the model's bound"},
    fields: [
      {key: "spot_price_ratio", label: "Spot price", unit: "fraction of on demand", min: 0,
       max: 1},
      {key: "preemptions_per_hour", label: "Preemption rate", unit: "per node-hour", min: 0,
       max: interruptible.MAX_RATE, why: "the model's bound"},
      {key: "spot_attempts", label: "Attempts on spot", unit: "before one on demand",
       integer: true, min: 0, max: interruptible.MAX_SPOT_ATTEMPTS, why: "the model's bound"},
      {key: "overhead_minutes", label: "Overhead per attempt", unit: "min", min: 0,
       max: 600, why: "the model's bound"},
    ],
    defaults: data => ({
      stages: data.stages, spot_price_ratio: data.spot_price_ratio,
      preemptions_per_hour: data.preemptions_per_hour, spot_attempts: data.spot_attempts,
      overhead_minutes: data.overhead_minutes,
    }),
    compute(v) {
      const m = interruptible;
      const shapes = [["coarse", false], ["fine-grained", true]];
      const common = {spot_price_ratio: v.spot_price_ratio, spot_attempts: v.spot_attempts,
                      overhead_minutes: v.overhead_minutes};
      const results = shapes.map(([label, fine_grained]) => ({
        label,
        spot: m.on_spot(v.stages, {fine_grained, preemptions_per_hour: v.preemptions_per_hour,
                                   ...common}),
        demand: m.on_demand(v.stages, {fine_grained, overhead_minutes: v.overhead_minutes}),
        even: m.break_even_rate(v.stages, {fine_grained, ...common}),
      }));
      const evenText = r => r.even === 0 ? ["0", "spot never pays"]
        : r.even === Infinity ? ["none", `not reached by ${fixed(m.MAX_RATE, 0)}`]
        : [rate(r.even), `one every ${fixed(60 / r.even, 0)} min`];
      const rows = [
        ["Cost on spot (node-hours)", r => fixed(r.spot.cost, 2)],
        ["Cost on demand (node-hours)", r => fixed(r.demand.cost, 2)],
        ["Time on spot (h)", r => fixed(r.spot.hours, 2)],
        ["Time on demand (h)", r => fixed(r.demand.hours, 2)],
        ["Break-even rate (per node-hour)", evenText],
      ].map(([label, cell]) => ({cells: [label, ...results.map(cell)]}));
      const summary = [];
      if (results.every(r => r.demand.cost === 0)) {
        summary.push("Nothing to run: every stage and the overhead take 0 minutes.");
      } else {
        const share = r => fixed(100 * r.spot.cost / r.demand.cost, 0);
        const [coarse, fine] = results;
        summary.push(`At this rate, spot costs ${share(coarse)}% of on demand for the coarse ` +
                     `task and ${share(fine)}% for the fine-grained stages.`);
        for (const r of results) {
          const shape = r.label === "coarse" ? "the coarse task" : "the fine-grained stages";
          summary.push(r.even === 0 ? `Spot never pays for ${shape}, at any rate.`
            : r.even === Infinity
              ? `Spot pays for ${shape} at every rate up to ${fixed(m.MAX_RATE, 0)} ` +
                "preemptions per node-hour, the model's bound."
              : `Spot stops paying for ${shape} above ${rate(r.even)} preemptions per ` +
                `node-hour (one every ${fixed(60 / r.even, 0)} min).`);
        }
      }
      return {summary, details: [table(["", "Coarse", "Fine-grained"], rows,
        "Expected cost and time; coarse: one task, fine-grained: a task per stage")]};
    },
  };

  calculators.decomposition = {
    name: "decomposition",
    // The order is the data's: step 2 reads what step 1 writes. Either may be the large one.
    groups: [
      ["Step 1, which runs first", [
        {key: "first_seconds", label: "Run time", unit: "s", min: 0, max: 1e6,
         why: "about 12 days"},
        {key: "first_cpu", label: "CPUs", unit: "cores", positive: true, min: 0.001,
         max: 1000, why: "more than any single node"},
        {key: "first_memory_gib", label: "Memory", unit: "GiB", positive: true, min: 0.001,
         max: 1e5, why: "more than any single node"},
      ]],
      ["Step 2, which reads step 1's output", [
        {key: "second_seconds", label: "Run time", unit: "s", min: 0, max: 1e6,
         why: "about 12 days"},
        {key: "second_cpu", label: "CPUs", unit: "cores", positive: true, min: 0.001,
         max: 1000, why: "more than any single node"},
        {key: "second_memory_gib", label: "Memory", unit: "GiB", positive: true,
         min: 0.001, max: 1e5, why: "more than any single node"},
      ]],
      ["Between the steps, and per task", [
        {key: "handoff_mb", label: "Hand-off size", unit: "MB", min: 0, max: 1e6,
         why: "a terabyte, past what one task hands another"},
        {key: "pod_start_s", label: "Pod start", unit: "s", min: 0, max: 86400,
         why: "a day"},
        {key: "transfer_mb_per_s", label: "Transfer rate", unit: "MB/s", positive: true,
         min: 0.001, max: 1e6, why: "a terabyte a second"},
      ]],
      ["Prices", [
        {key: "usd_per_cpu_hour", label: "Per CPU-hour", unit: "USD", min: 0, max: 1000,
         why: "a hundred times a cloud's price"},
        {key: "usd_per_gib_hour", label: "Per GiB-hour", unit: "USD", min: 0, max: 1000,
         why: "a hundred times a cloud's price"},
      ]],
    ],
    get fields() {
      return this.groups.flatMap(([, fields]) => fields);
    },
    defaults: data => ({
      first_seconds: data.first.seconds, first_cpu: data.first.cpu,
      first_memory_gib: data.first.memory_gib,
      second_seconds: data.second.seconds, second_cpu: data.second.cpu,
      second_memory_gib: data.second.memory_gib,
      handoff_mb: data.handoff_bytes / 1e6, ...data.overhead,
    }),
    // Every sentence is said from the same numbers as the table below it.
    compute(v) {
      const m = decomposition;
      const first = {seconds: v.first_seconds, cpu: v.first_cpu, memory_gib: v.first_memory_gib};
      const second = {seconds: v.second_seconds, cpu: v.second_cpu,
                      memory_gib: v.second_memory_gib};
      const handoff = v.handoff_mb * 1e6;
      const overhead = {pod_start_s: v.pod_start_s, transfer_mb_per_s: v.transfer_mb_per_s,
                        usd_per_cpu_hour: v.usd_per_cpu_hour,
                        usd_per_gib_hour: v.usd_per_gib_hour};
      const one = m.keep_together(first, second, overhead);
      const two = m.split(first, second, handoff, overhead);
      const rerun = m.rerun_split(second, handoff, overhead);
      const evens = m.break_even_seconds(first, second, handoff, overhead);
      const repay = m.reruns_to_repay(first, second, handoff, overhead);
      const cost = c => fixed(1000 * c.usd, 2);
      const summary = [];
      if (cost(one) === cost(two)) {
        summary.push(`Per run, one task and two tasks cost the same: USD ${cost(one)} per ` +
                     "1,000 runs.");
      } else if (two.usd < one.usd) {
        summary.push(`Per run, split: two tasks cost USD ${cost(two)} per 1,000 runs, ` +
                     `one task USD ${cost(one)}.`);
      } else {
        summary.push(`Per run, keep them together: one task costs USD ${cost(one)} per ` +
                     `1,000 runs, two tasks USD ${cost(two)}.`);
      }
      const steps = [["first", "step 1", first], ["second", "step 2", second]]
        .filter(([key]) => evens[key] !== null);
      if (!steps.length) {
        summary.push("Neither step runs on less CPU and memory than the one-task pod " +
                     "needs, so two tasks never cost less per run.");
      }
      for (const [key, name, step] of steps) {
        summary.push(evens[key] === 0
          ? `Two tasks cost less however short ${name} runs.`
          : `Two tasks cost less once ${name} runs longer than ${duration(evens[key])}; ` +
            `it runs ${duration(step.seconds)}.`);
      }
      const lost = two.seconds - one.seconds;
      if (repay === null) {
        summary.push("A re-run with a new input for step 2 only is not faster as two " +
                     "tasks: step 1's run is shorter than the hand-off's download.");
      } else {
        summary.push(`A re-run with a new input for step 2 only takes ` +
                     `${duration(rerun.seconds)} as two tasks (step 1 from the cache) and ` +
                     `${duration(one.seconds)} as one. ` + (repay === 0
          ? "Two tasks are not slower per run, so there is nothing to repay."
          : `The split's extra ${duration(lost)} per run is repaid after ` +
            `${plural(repay, "such re-run")}.`));
      }
      const rows = [
        {cells: ["Time per run", duration(one.seconds), duration(two.seconds)]},
        {cells: ["Cost per 1,000 runs (USD)", cost(one), cost(two)]},
        {cells: ["Re-run, new input for step 2", duration(one.seconds),
                 duration(rerun.seconds)]},
      ];
      return {summary, details: [table(["", "One task", "Two tasks"], rows,
                                       "Time and cost of each choice")]};
    },
  };

  // ==========================================================================================
  // Wiring: form, results, URL

  const STAGE_NAME = /^[\w .-]{1,24}$/;

  // The query-string names of a calculator's inputs: its fields, and "stage" for each stage.
  function urlNames(calc) {
    const groups = calc.groups ? calc.groups.flatMap(([, group]) => group) : [];
    return (calc.fields || []).concat(groups).map(f => f.key)
      .concat(calc.stageField ? ["stage"] : []);
  }

  function setUp(root) {
    const calc = calculators[root.dataset.calculator];
    if (!calc) return null;
    const data = (window.calculatorInputs || {})[calc.name];
    const details = root.closest("details");
    const anchor = details && details.id;
    root.replaceChildren();

    const form = h("form", {class: "calc-form", novalidate: true,
                            onsubmit: e => e.preventDefault()});  // Enter must not reload
    const fields = {};
    const add = (parent, field) => {
      const f = numberField(calc, field);
      fields[field.key] = f;
      parent.append(f.el);
    };

    // Interruptible: a list of stages, each with its run time and whether it may use spot.
    const stages = [];
    let stageList = null, addStage = null;
    const renumber = () => {
      for (const s of stages) s.remove.disabled = stages.length === 1;
      addStage.disabled = stages.length >= calc.maxStages;
    };
    let serial = 0;  // ids for stage fields, unique however stages come and go
    const appendStage = (name, minutesText, spot) => {
      const field = {...calc.stageField, key: `stage-${serial++}`, label: name};
      const f = numberField(calc, field);
      f.input.value = minutesText;
      const check = h("input", {type: "checkbox"});
      check.checked = spot;
      const stage = {name, f, check};
      stage.remove = h("button", {type: "button", class: "calc-button", onclick: () => {
        stages.splice(stages.indexOf(stage), 1);
        row.remove();
        renumber();
        update();
        (stages[0] && stages[0].f.input).focus();
      }}, "Remove", srOnly(` ${name}`));
      const row = h("div", {class: "calc-stage"}, f.el,
        h("label", {class: "calc-check"}, check, " on spot", srOnly(` (${name})`)),
        stage.remove);
      stages.push(stage);
      stageList.append(row);
    };

    if (calc.stageField) {
      stageList = h("div", {class: "calc-stages"});
      addStage = h("button", {type: "button", class: "calc-button", onclick: () => {
        const used = new Set(stages.map(s => s.name));
        let n = stages.length + 1;
        while (used.has(`stage ${n}`)) n++;
        appendStage(`stage ${n}`, "10", true);
        renumber();
        update();
        stages[stages.length - 1].f.input.focus();
      }}, "Add a stage");
      form.append(h("fieldset", {class: "calc-group"},
        h("legend", {}, "Stages: each one's work, without the overhead"), stageList,
        addStage));
      const spot = h("fieldset", {class: "calc-group"}, h("legend", {}, "Spot and retries"));
      const fieldsBox = h("div", {class: "calc-fields"});
      for (const field of calc.fields) add(fieldsBox, field);
      // The published bands as presets of the rate: picking one fills the rate field.
      const bands = data ? Object.entries(data.bands) : [];
      const preset = h("select", {id: `calc-${calc.name}-preset`, onchange: () => {
        if (preset.value) fields.preemptions_per_hour.input.value = shown(Number(preset.value));
        else fields.preemptions_per_hour.input.focus();  // "your own": type it
        update();
      }}, h("option", {value: ""}, "Your own rate"),
      bands.map(([band, [, r]]) => h("option", {value: r},
        `AWS band ${band} a month`)));
      const presetField = h("div", {class: "calc-field calc-wide"},
        h("label", {for: preset.id}, "Preset rate ",
          h("span", {class: "calc-unit"}, "(AWS Spot Instance Advisor bands)")), preset);
      fieldsBox.insertBefore(presetField, fields.preemptions_per_hour.el.nextSibling);
      spot.append(fieldsBox);
      form.append(spot);
      calc.preset = preset;
    } else if (calc.groups) {
      for (const [legend, group] of calc.groups) {
        const box = h("div", {class: "calc-fields"});
        for (const field of group) add(box, field);
        form.append(h("fieldset", {class: "calc-group"}, h("legend", {}, legend), box));
      }
    } else {
      const box = h("div", {class: "calc-fields"});
      for (const field of calc.fields) add(box, field);
      form.append(box);
    }

    // A field shows a default to 6 significant digits (a preset rate to 4), and while it
    // holds that text it stands for the exact default, so the first load says what the
    // evidence page printed.
    const bandRates = data && data.bands ? Object.values(data.bands).map(([, r]) => r) : [];
    const exactDefaults = data ? calc.defaults(data) : {};
    function shown(x) {
      return String(Number(x.toPrecision(bandRates.includes(x) ? 4 : 6)));
    }
    function valueOf(key, result) {
      if (result.error) return result.value;
      const exact = (key === "preemptions_per_hour" ? bandRates : [])
        .concat(typeof exactDefaults[key] === "number" ? [exactDefaults[key]] : [])
        .find(r => shown(r) === fields[key].input.value.trim());
      return exact === undefined ? result.value : exact;
    }

    const reset = h("button", {type: "button", class: "calc-button", disabled: !data,
                               onclick: () => {
                                 fill(defaults());
                                 update({keepUrl: true});
                                 clearTimeout(urlTimer);
                                 writeUrl(setUrl(new URLSearchParams(location.search)));
                               }},
                    "Back to the model's defaults");
    form.append(h("div", {class: "calc-actions"}, reset));

    const summary = h("div", {class: "calc-summary", "aria-live": "polite"});
    const detailsBox = h("div", {class: "calc-details"});
    const results = h("section", {class: "calc-results", "aria-label": "Results"},
                      summary, detailsBox);
    root.append(form, results);
    if (!data) {
      root.prepend(h("p", {class: "calc-note"}, "This build of the site wrote no model " +
        "defaults, so the calculator has none: enter your own numbers."));
    }

    // The model's defaults as field texts: {key: text, stages: [[name, text, spot]]}.
    function defaults() {
      if (!data) return calc.stageField ? {stages: [["stage 1", "", true]]} : {};
      const d = calc.defaults(data);
      const out = {};
      for (const key of Object.keys(fields)) out[key] = shown(d[key]);
      if (calc.stageField) {
        out.stages = d.stages.map(s => [s.name, String(s.minutes), s.interruptible]);
      }
      return out;
    }

    // texts: {key: text, stages: [[name, minutesText, spot]]}
    function fill(texts) {
      for (const [key, f] of Object.entries(fields)) {
        if (key in texts) f.input.value = texts[key];
      }
      if (calc.stageField && texts.stages) {
        stages.length = 0;
        stageList.replaceChildren();
        for (const [name, minutes, spot] of texts.stages) appendStage(name, minutes, spot);
        renumber();
      }
    }

    // The query string: this calculator's fields, each stage as name:minutes:spot|demand.
    const keys = urlNames(calc);
    function fromUrl() {
      const params = new URLSearchParams(location.search);
      if (!keys.some(k => params.has(k))) return null;
      const texts = {};
      for (const key of Object.keys(fields)) {
        if (params.has(key)) texts[key] = params.get(key).slice(0, 100);
      }
      if (calc.stageField && params.has("stage")) {
        const parsed = params.getAll("stage").slice(0, calc.maxStages).map((text, i) => {
          const parts = text.split(":");
          const name = parts.length >= 3 && STAGE_NAME.test(parts[0]) ? parts[0]
                                                                       : `stage ${i + 1}`;
          return [name, parts.length >= 3 ? parts.slice(1, -1).join(":").slice(0, 100)
                                          : text.slice(0, 100),
                  parts.length < 3 || parts[parts.length - 1] !== "demand"];
        });
        if (parsed.length) texts.stages = parsed;
      }
      return texts;
    }
    let urlTimer = 0;
    // Other parameters (a search's ?highlight=) stay.
    function setUrl(params) {
      for (const key of keys) params.delete(key);
      return params;
    }
    function toUrl() {
      const params = setUrl(new URLSearchParams(location.search));
      for (const [key, f] of Object.entries(fields)) params.set(key, f.input.value.trim());
      for (const s of stages) {
        params.append("stage", `${s.name}:${s.f.input.value.trim()}:` +
                                `${s.check.checked ? "spot" : "demand"}`);
      }
      writeUrl(params);
    }
    function writeUrl(params) {
      const query = params.toString().replace(/%3A/g, ":");
      history.replaceState(history.state, "", location.pathname + (query ? "?" + query : "") +
                                               (anchor ? "#" + anchor : ""));
    }

    function update({keepUrl = false} = {}) {
      const values = {};
      const invalid = [];
      for (const [key, f] of Object.entries(fields)) {
        const result = f.read();
        if (result.error) invalid.push(f);
        else values[key] = valueOf(key, result);
      }
      if (calc.stageField) {
        values.stages = stages.map(s => {
          const result = s.f.read();
          if (result.error) invalid.push(s.f);
          return {name: s.name, minutes: result.value, interruptible: s.check.checked};
        });
        const match = bandRates.find(r => r === values.preemptions_per_hour);
        calc.preset.value = match === undefined ? "" : String(match);
      }
      if (invalid.length) {
        const names = invalid.map(f => f.el.querySelector("label").textContent);
        summary.replaceChildren(h("p", {class: "calc-invalid"},
          `No result until every field holds a valid number. Check: ${names.join("; ")}.`));
        detailsBox.replaceChildren();
      } else {
        let out;
        try {
          out = calc.compute(values, detailsBox.clientWidth || results.clientWidth);
        } catch (error) {  // the model's own checks (validate): say which, compute nothing
          out = {summary: [`The model rejects these inputs: ${error.message}.`], details: []};
        }
        summary.replaceChildren(...out.summary.map(line => h("p", {}, line)));
        detailsBox.replaceChildren(...out.details);
      }
      if (!keepUrl) {
        clearTimeout(urlTimer);
        urlTimer = setTimeout(toUrl, 250);
      }
      return values;
    }

    // The preset list answers its own change (it fills the rate first).
    form.addEventListener("input", e => e.target.tagName === "SELECT" || update());
    form.addEventListener("change", () => update());
    const shared = fromUrl();
    fill(defaults());
    if (shared) {
      fill(shared);
      if (details) details.open = true;
    }
    // Charts are drawn at the width they are shown: again when it changes (a closed
    // dropdown has none).
    let lastWidth = -1;
    new ResizeObserver(() => requestAnimationFrame(() => {  // after layout, not inside it
      if (results.clientWidth !== lastWidth) {
        lastWidth = results.clientWidth;
        update({keepUrl: true});
      }
    })).observe(results);
    update({keepUrl: true});
    return {calc, fields, stages, update, values: () => update({keepUrl: true}), defaults};
  }

  // A calculator is built when its dropdown first opens, or at once when the URL holds
  // its inputs (setUp then opens it): building one computes its table and chart, work a
  // reader who keeps it closed should not wait for before the page is ready.
  const instances = {};
  const params = new URLSearchParams(location.search);
  for (const root of document.querySelectorAll(".calculator-app[data-calculator]")) {
    const calc = calculators[root.dataset.calculator];
    if (!calc) continue;
    const details = root.closest("details");
    const build = () => {
      if (!instances[calc.name]) instances[calc.name] = setUp(root);
    };
    // Open already: opened before this script arrived (it loads after the page).
    if (!details || details.open || urlNames(calc).some(name => params.has(name))) {
      build();
    } else {
      // A click (or Enter) on the summary builds it before the dropdown opens, so the
      // next Tab reaches its first field; "toggle" catches opening by script or a link.
      details.querySelector("summary")?.addEventListener("click", build);
      details.addEventListener("toggle", () => details.open && build());
    }
  }
  // For the tests (tests/test_calculators.py) and the curious: the models and the page's
  // calculators.
  window.flyteCalculators = {models: {parallelism, interruptible, decomposition}, fixed,
                             calculators, instances};
})();
