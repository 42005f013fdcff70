// The timeline page: positions drawn over valid time, the state as of a date, what
// changed between two dates and why, and the sourced facts, all from the HTTP API.
// Plain browser JavaScript, no build step and no library: the page ships in the wheel.
// Every text from a dossier enters the page as text (textContent), never as markup.
"use strict";

const STANCES = ["opposed", "reluctant", "undecided", "conditional", "supportive", "committed"];
// An ordered, colour-blind-safe scale (ColorBrewer RdBu), dark text where it is light.
const COLOURS = {
  opposed: ["#b2182b", "#fff"],
  reluctant: ["#ef8a62", "#000"],
  undecided: ["#e0e0e0", "#000"],
  conditional: ["#d1e5f0", "#000"],
  supportive: ["#67a9cf", "#000"],
  committed: ["#2166ac", "#fff"],
};
const LAST_DAY = "9999-12-30";
const DAY = 86400000;
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 900;
const LABEL = 230;
const LANE = 28;
const MOST_LANES = 60; // beyond this, the actor filter narrows the lanes
const MOST_FACTS = 2000;

const $ = (id) => document.getElementById(id);
let names = {};
let facts = [];
let shownAxis = null;
let drawn = null; // the choice whose lanes, totals and facts are on the page

function element(tag, attributes = {}, text = null, namespace = null) {
  const made = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  if (text !== null) made.textContent = text;
  return made;
}

const svg = (tag, attributes = {}, text = null) => element(tag, attributes, text, SVG);
const name = (code) => names[code] || code;

// What does not move with the as-of date (histories, the facts, the names) is read once
// per page load: moving the date asks only for the state and the changes.
const kept = new Map();

async function get(path, query) {
  const shown = Object.entries(query)
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((one) => [key, one]))
    .filter(([, value]) => value);
  const url = `${path}?${new URLSearchParams(shown)}`;
  const lasting = !path.startsWith("/api/state") || query.as_of === LAST_DAY;
  if (lasting && kept.has(url)) return kept.get(url);
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || body.title || response.statusText);
  if (lasting && !path.startsWith("/api/diff")) kept.set(url, body);
  return body;
}

function chosen() {
  return {
    dossier: $("dossier").value,
    issue: $("issue").value,
    actor: $("actor").value.trim(),
    as_of: $("as-of").value.trim(),
    known_at: $("known-at").value.trim(),
    from: $("from").value.trim(),
    to: $("to").value.trim(),
  };
}

function remember(choice) {
  const query = new URLSearchParams(Object.entries(choice).filter(([, value]) => value));
  history.replaceState(null, "", `${location.pathname}?${query}`);
}

function day(moment) {
  return new Date(moment).toISOString().slice(0, 10);
}

// ---- the time axis ---------------------------------------------------------------

function scale(first, last) {
  const span = Math.max(last - first, DAY);
  const x = (moment) => LABEL + ((moment - first) / span) * (WIDTH - LABEL - 10);
  return { first, last, x };
}

function ticks(group, axis, top, height) {
  const count = 6;
  for (let i = 0; i <= count; i += 1) {
    const moment = axis.first + ((axis.last - axis.first) * i) / count;
    const x = axis.x(moment);
    group.append(svg("line", { x1: x, x2: x, y1: top, y2: top + height, class: "tick" }));
    const anchor = i === count ? "end" : "middle"; // the last label stays inside
    group.append(svg("text", {
      x, y: top + height + 12, class: "tick-label", "text-anchor": anchor,
    }, day(moment)));
  }
}

function asOfLine(group, axis, asOf, top, height) {
  const x = axis.x(asOf);
  group.append(svg("line", { x1: x, x2: x, y1: top, y2: top + height, class: "as-of" }));
}

// ---- positions over time -----------------------------------------------------------

function describe(item) {
  let said = item.stance;
  if (item.condition) {
    const what = item.condition.item ? ` ${name(item.condition.item)}` : "";
    const met = item.condition.met ? "met" : "unmet";
    said += `, if ${name(item.condition.actor)} ${item.condition.does}s${what} (${met})`;
  }
  return said;
}

function lane(group, axis, row, versions, pressed, withIssue) {
  const top = row * LANE;
  const item = versions[versions.length - 1].item;
  const label = withIssue ? `${name(item.actor)} · ${name(item.issue)}` : name(item.actor);
  group.append(svg("text", { x: 0, y: top + 18, class: "lane-label" }, label));
  const summary = [];
  for (const version of versions) {
    const start = Date.parse(version.valid_from);
    const end = version.valid_to ? Date.parse(version.valid_to) : axis.last;
    const [fill, ink] = COLOURS[version.item.stance];
    const x = axis.x(start);
    const width = Math.max(axis.x(end) - x, 2);
    const band = svg("rect", {
      x, y: top + 4, width, height: LANE - 8, fill, class: "band",
      "data-stance": version.item.stance,
    });
    band.append(svg("title", {}, `${label}: ${describe(version.item)} from ${version.item.since}`));
    group.append(band);
    const cause = facts.find((fact) => fact.key === version.item.since_event.key);
    const uncertain = cause
      && Date.parse(cause.occurred_end) - Date.parse(cause.occurred_start) > DAY;
    if (uncertain) {
      // The stance changed some day within this interval: drawn as an uncertain edge.
      const edge = Math.min(axis.x(Date.parse(cause.occurred_end)) - x, width);
      group.append(svg("rect", {
        x, y: top + 4, width: edge, height: LANE - 8, class: "uncertain",
      }));
    }
    if (width > 70) {
      const text = version.item.condition
        ? `${version.item.stance} (${version.item.condition.met ? "met" : "unmet"})`
        : version.item.stance;
      const fill = uncertain ? "#000" : ink; // the uncertain edge is pale
      group.append(svg("text", { x: x + 4, y: top + 18, fill, class: "band-label" }, text));
    }
    summary.push(`${describe(version.item)} from ${version.item.since}`);
  }
  for (const fact of pressed) {
    const x = axis.x(Date.parse(fact.occurred_start));
    const mark = svg("path", {
      d: `M${x - 5},${top} L${x + 5},${top} L${x},${top + 8} Z`, class: "pressure",
    });
    mark.append(svg("title", {}, `pressed by ${fact.payload.actors.map(name).join(", ")}`));
    group.append(mark);
  }
  group.setAttribute("aria-label", `${label}: ${summary.join("; ")}`);
}

async function drawLanes(choice, axis, asOf) {
  const everything = await get("/api/state", {
    as_of: LAST_DAY, dossier: choice.dossier, known_at: choice.known_at, section: "positions",
    issue: choice.issue, actor: choice.actor,
  });
  const drawn = everything.positions.slice(0, MOST_LANES);
  $("lanes-note").textContent = drawn.length < everything.positions.length
    ? `The first ${drawn.length} of ${everything.positions.length} lanes: choose an actor for others.`
    : "";
  const histories = await Promise.all(drawn.map((position) => get(
    `/api/history/positions/${encodeURIComponent(position.actor)}/${encodeURIComponent(position.issue)}`,
    { dossier: choice.dossier, known_at: choice.known_at },
  )));
  const drawing = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${histories.length * LANE + 20}`, width: "100%", role: "group",
    "aria-label": "Each actor's stance on each issue over time",
  });
  const issues = new Set(histories.map((found) => found.key[2]));
  $("lanes-heading").textContent = issues.size === 1
    ? `Positions over time on ${name([...issues][0])}` : "Positions over time";
  histories.forEach((found, row) => {
    const group = svg("g", { role: "img", class: "lane", "data-actor": found.key[1] });
    const [, actor, issue] = found.key;
    const pressed = facts.filter((fact) => fact.type === "pressure.applied"
      && fact.payload.target === actor && fact.payload.issue === issue);
    lane(group, axis, row, found.versions, pressed, issues.size > 1);
    drawing.append(group);
  });
  ticks(drawing, axis, 0, histories.length * LANE);
  asOfLine(drawing, axis, asOf, 0, histories.length * LANE);
  $("lanes").replaceChildren(drawing);
  $("legend").replaceChildren(...STANCES.map((stance) => {
    const key = element("span", { class: "swatch" });
    key.style.background = COLOURS[stance][0];
    const entry = element("span", { class: "legend-entry" });
    entry.append(key, document.createTextNode(stance));
    return entry;
  }));
}

// ---- pledged over time ---------------------------------------------------------------

async function drawTotals(choice, axis, asOf) {
  const everything = await get("/api/state", {
    as_of: LAST_DAY, dossier: choice.dossier, known_at: choice.known_at, section: "totals",
  });
  const histories = await Promise.all(everything.totals.map((total) => get(
    `/api/history/totals/${encodeURIComponent(total.category)}`,
    { dossier: choice.dossier, known_at: choice.known_at },
  )));
  const ROW = 46;
  const drawing = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${histories.length * ROW + 20}`, width: "100%", role: "group",
    "aria-label": "Units pledged in each category over time",
  });
  histories.forEach((found, row) => {
    const top = row * ROW;
    const highest = Math.max(1, ...found.versions.map((v) => v.item.high));
    const y = (value) => top + ROW - 6 - (value / highest) * (ROW - 14);
    const steps = (field) => {
      let path = `M${axis.x(axis.first)},${y(0)}`;
      for (const version of found.versions) {
        const x = axis.x(Date.parse(version.valid_from));
        path += ` H${x} V${y(version.item[field])}`;
      }
      return `${path} H${axis.x(axis.last)}`;
    };
    const last = found.versions[found.versions.length - 1].item;
    const said = (v) => `${range(v.item.low, v.item.high)} pledged, `
      + `${range(v.item.delivered_low, v.item.delivered_high)} delivered from ${day(v.valid_from)}`;
    const group = svg("g", {
      role: "img", class: "total", "data-category": last.category,
      "aria-label": `${last.category}: ${found.versions.map(said).join("; ")}`,
    });
    group.append(svg("text", { x: 0, y: top + 20, class: "lane-label" }, last.category));
    group.append(svg("text", { x: 0, y: top + 34, class: "tick-label total-value" },
      `up to ${range(last.low, last.high)}, ${range(last.delivered_low, last.delivered_high)} delivered`));
    group.append(svg("path", { d: steps("high"), class: "step high" }));
    if (found.versions.some((v) => v.item.low !== v.item.high)) {
      group.append(svg("path", { d: steps("low"), class: "step low" }));
    }
    if (found.versions.some((v) => v.item.delivered_high > 0)) {
      group.append(svg("path", { d: steps("delivered_high"), class: "step delivered" }));
    }
    if (found.versions.some((v) => v.item.delivered_low !== v.item.delivered_high)) {
      group.append(svg("path", { d: steps("delivered_low"), class: "step delivered low" }));
    }
    drawing.append(group);
  });
  asOfLine(drawing, axis, asOf, 0, histories.length * ROW);
  $("totals-chart").replaceChildren(drawing);
}

// ---- the state as of a date --------------------------------------------------------

function rows(table, items, cells) {
  const body = $(table).tBodies[0];
  body.replaceChildren(...items.map((item) => {
    const row = element("tr");
    for (const cell of cells(item)) row.append(element("td", {}, cell));
    return row;
  }));
}

function range(low, high) {
  return low === high ? String(low) : `${low}–${high}`;
}

async function drawState(choice) {
  // Only what the tables show; totals name no actor and no issue, so they are asked
  // for by dossier alone.
  const [state, { totals }] = await Promise.all([
    get("/api/state", {
      as_of: choice.as_of, dossier: choice.dossier, known_at: choice.known_at,
      issue: choice.issue, actor: choice.actor, section: ["positions", "requests"],
    }),
    get("/api/state", {
      as_of: choice.as_of, dossier: choice.dossier, known_at: choice.known_at, section: "totals",
    }),
  ]);
  $("as-of-label").textContent = choice.as_of || "now";
  rows("positions", state.positions, (p) => [
    name(p.actor), name(p.issue), p.stance, p.since,
    p.condition ? describe(p).slice(p.stance.length + 2) : "",
    p.pressed_by.map(name).join(", "),
  ]);
  rows("totals", totals, (t) => [t.category, range(t.low, t.high), String(t.pledges),
    String(t.unknown), range(t.delivered_low, t.delivered_high)]);
  rows("requests", state.requests, (r) => [name(r.requester), name(r.addressee),
    `${r.ask}${r.item ? ` ${name(r.item)}` : ""}`, r.status, r.decided || ""]);
  return Date.parse(state.as_of);
}

// ---- what changed, and why --------------------------------------------------------------

function change(entry) {
  const item = entry.after || entry.before;
  const what = entry.key.slice(1).map(name).join(" · ");
  let said = `${entry.section}: ${what}: ${entry.kinds.join(", ")}`;
  if (entry.section === "positions" && entry.before && entry.after) {
    said += ` (${entry.before.stance} → ${entry.after.stance})`;
  } else if (entry.section === "totals" && item) {
    said += ` (${entry.before ? range(entry.before.low, entry.before.high) : 0} → `
      + `${entry.after ? range(entry.after.low, entry.after.high) : 0})`;
  }
  if (!entry.events.length) return element("li", {}, `${said}: its time has passed`);
  const line = element("li", {}, `${said}; because of `);
  entry.events.forEach((ref, index) => {
    if (index) line.append(document.createTextNode(", "));
    line.append(element("a", { href: `#${factId(ref.key)}` }, ref.key));
  });
  return line;
}

async function drawChanges(choice) {
  if (!choice.from || !choice.to) {
    $("changes-label").textContent = "(give two dates)";
    $("changes").replaceChildren();
    return;
  }
  const found = await get("/api/diff", {
    from: choice.from, to: choice.to, dossier: choice.dossier, known_at: choice.known_at,
    issue: choice.issue, actor: choice.actor,
  });
  $("changes-label").textContent = `from ${choice.from} to ${choice.to}`;
  $("changes").replaceChildren(...found.changes.map(change));
}

// ---- the facts ----------------------------------------------------------------------------

function factId(key) {
  return `fact-${Array.from(key, (c) => c.codePointAt(0).toString(16)).join("-")}`;
}

async function readFacts(choice) {
  const found = [];
  let cursor = null;
  do {
    const page = await get("/api/log", {
      dossier: choice.dossier, actor: choice.actor, known_at: choice.known_at, limit: 1000, cursor,
    });
    found.push(...page.events);
    cursor = page.next;
  } while (cursor && found.length < MOST_FACTS);
  $("facts-note").textContent = cursor ? `The first ${found.length} facts: choose an actor for others.` : "";
  return found;
}

function source(cited) {
  const line = element("li");
  const publisher = /^https?:\/\//.test(cited.url || "")
    ? element("a", { href: cited.url }, cited.publisher)
    : element("span", {}, cited.publisher);
  line.append(publisher, document.createTextNode(`, ${cited.published}: “${cited.quote}”`));
  return line;
}

function drawFacts(axis, asOf) {
  // Each fact on the first row where it overlaps nothing; a span as a bar, a day as a dot.
  const ends = [];
  const marks = facts.map((fact) => {
    const start = axis.x(Date.parse(fact.occurred_start));
    const end = Math.max(axis.x(Date.parse(fact.occurred_end)), start + 10);
    let row = ends.findIndex((taken) => taken < start);
    if (row < 0) row = ends.push(0) - 1;
    ends[row] = end + 2;
    const family = fact.type.split(".")[0];
    const y = 4 + row * 14;
    const mark = end - start > 12
      ? svg("rect", { x: start, y, width: end - start, height: 10, rx: 3, class: `fact ${family}` })
      : svg("circle", { cx: start + 5, cy: y + 5, r: 5, class: `fact ${family}` });
    mark.append(svg("title", {}, `${fact.occurred} ${fact.type}: ${fact.key}`));
    const link = svg("a", { href: `#${factId(fact.key)}` });
    link.append(mark);
    return link;
  });
  const height = ends.length * 14 + 4;
  const drawing = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${height + 20}`, width: "100%", role: "group",
    "aria-label": `${facts.length} facts on a time axis, each a link to its sources`,
  });
  drawing.append(...marks);
  ticks(drawing, axis, 0, height);
  asOfLine(drawing, axis, asOf, 0, height);
  $("axis").replaceChildren(drawing);
  $("facts").replaceChildren(...facts.map((fact) => {
    const entry = element("li", { id: factId(fact.key), class: fact.type.split(".")[0] });
    const heading = element("details");
    const fixes = fact.corrected_by.length
      ? ` · corrected by ${fact.corrected_by.map((r) => r.key).join(", ")}` : "";
    const summary = element("summary", {}, `${fact.occurred} · ${fact.type} · ${fact.key}${fixes}`);
    const said = fact.payload.note || fact.payload.summary || fact.payload.threshold;
    heading.append(summary);
    if (said) heading.append(element("p", {}, said));
    const sources = element("ul", { class: "sources" });
    sources.append(...fact.sources.map(source));
    heading.append(sources);
    entry.append(heading);
    return entry;
  }));
}

// ---- putting it together --------------------------------------------------------------

function slider(axis, asOf) {
  const input = $("as-of-slider");
  input.max = String(Math.round((axis.last - axis.first) / DAY));
  input.value = String(Math.round((Math.min(asOf, axis.last) - axis.first) / DAY));
  input.setAttribute("aria-valuetext", day(asOf - 1));
}

// What the lanes, the totals and the facts depend on: a move of the dates alone leaves them.
const drawing = (choice) => JSON.stringify([choice.dossier, choice.issue, choice.actor, choice.known_at]);

// A move of the as-of date: the state tables and the changes are read again, and the
// as-of lines move; the lanes, totals and facts stay as drawn.
async function move(choice) {
  remember(choice);
  const asOf = await drawState(choice);
  for (const line of document.querySelectorAll("line.as-of")) {
    const x = String(shownAxis.x(asOf));
    line.setAttribute("x1", x);
    line.setAttribute("x2", x);
  }
  slider(shownAxis, asOf);
  await drawChanges(choice);
}

async function show() {
  const choice = chosen();
  $("status").textContent = "Loading…";
  try {
    if (drawn !== null && drawing(choice) === drawn) {
      await move(choice);
      $("status").textContent = `As of ${choice.as_of || "now"}, known ${choice.known_at ? `at ${choice.known_at}` : "now"}.`;
      return;
    }
    drawn = null;
    const dossier = await get(`/api/dossiers/${encodeURIComponent(choice.dossier)}`, {});
    names = Object.fromEntries([...dossier.actors, ...dossier.items, ...dossier.issues]
      .map((declared) => [declared.code, declared.name]));
    $("title").textContent = dossier.title || dossier.dossier;
    const issue = $("issue");
    const wanted = issue.value || issue.dataset.given || "";
    issue.replaceChildren(element("option", { value: "" }, "every issue"),
      ...dossier.issues.map((declared) => element("option", { value: declared.code }, declared.name)));
    issue.value = dossier.issues.some((declared) => declared.code === wanted) ? wanted : "";
    choice.issue = issue.value;
    remember(choice);
    facts = await readFacts(choice);
    const asOf = await drawState(choice);
    const starts = facts.map((fact) => Date.parse(fact.occurred_start));
    const ends = facts.map((fact) => Date.parse(fact.occurred_end));
    const axis = scale(Math.min(...starts) - DAY, Math.max(...ends, ...starts) + DAY);
    await drawLanes(choice, axis, asOf);
    await drawTotals(choice, axis, asOf);
    drawFacts(axis, asOf);
    slider(axis, asOf);
    shownAxis = axis;
    drawn = drawing(choice);
    await drawChanges(choice);
    $("status").textContent = `As of ${choice.as_of || "now"}, known ${choice.known_at ? `at ${choice.known_at}` : "now"}.`;
  } catch (error) {
    $("status").textContent = `Error: ${error.message}`;
  }
}

async function start() {
  const given = new URLSearchParams(location.search);
  const listed = await get("/api/dossiers", {});
  $("dossier").replaceChildren(...listed.dossiers.map((found) => element(
    "option", { value: found.dossier }, found.title || found.dossier,
  )));
  if (given.get("dossier")) $("dossier").value = given.get("dossier");
  $("issue").dataset.given = given.get("issue") || "";
  $("actor").value = given.get("actor") || "";
  $("as-of").value = given.get("as_of") || "";
  $("known-at").value = given.get("known_at") || "";
  $("from").value = given.get("from") || "";
  $("to").value = given.get("to") || "";
  $("controls").addEventListener("submit", (event) => {
    event.preventDefault();
    show();
  });
  $("dossier").addEventListener("change", () => {
    $("issue").value = "";
    show();
  });
  $("issue").addEventListener("change", show);
  $("as-of-slider").addEventListener("change", () => {
    if (!shownAxis) return;
    $("as-of").value = day(shownAxis.first + Number($("as-of-slider").value) * DAY);
    show();
  });
  if (listed.dossiers.length) await show();
  else $("status").textContent = "No dossier yet: import one with `timeline import`.";
}

start();
