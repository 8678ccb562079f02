#!/usr/bin/env node
// A Node.js client of the IdeaMine orchestrator: create a run from a run file, watch it to
// the end, print the final status.
//
//   IDEAMINE_TOKEN=$JWT node examples/clients/node/client.mjs examples/orchestrations/todo-app.yaml
//
// Environment: IDEAMINE_ORCHESTRATOR_ADDR (default 127.0.0.1:50051), IDEAMINE_TOKEN (a bearer
// JWT; leave it unset for an `--insecure-local` server).
// It prints the events until the run ends or stops for a person (needs a waiver, an answer, a
// raised budget, a resume). Exit codes: 0 the run succeeded · 1 it ended or stopped otherwise,
// or the server failed · 2 bad input (a malformed run file, or a request the server refused).
//
// It loads the API's own .proto files at run time (no generated code), so it always speaks the
// repository's current contract. Dependencies: @grpc/grpc-js, @grpc/proto-loader and yaml,
// pinned in the repository's package.json (`npm ci` installs them).

import { randomUUID } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import YAML from "yaml";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const PROTO_DIR = join(ROOT, "proto");
const UNARY_DEADLINE_MS = 30_000;
const MAX_RECONNECTS = 5;
const EXIT_BAD_INPUT = 2;
const EXIT_FAILED = 1;
// Status codes that mean "the request was refused", not "the server broke".
const REFUSED = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAUTHENTICATED,
  grpc.status.RESOURCE_EXHAUSTED,
]);
// The run now waits for a person (an answer, a waiver, a raised budget, a resume): the server
// keeps the stream open for whoever acts; this client stops watching and reports.
const STOPPED_EVENTS = new Set(["run.awaiting_input", "run.needs_waiver", "run.budget_exhausted", "run.paused"]);
const RUN_FILE_KEYS = new Set(["title", "idea", "constraints", "phases", "budget", "policy"]);

/** An error the user can fix; printed as one line, exit code 2. */
class BadInput extends Error {}

/** Load every proto of ideamine.v1; google/api comes from third_party, google/protobuf is built in. */
function loadApi() {
  const dir = join(PROTO_DIR, "ideamine", "v1");
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".proto"))
    .map((name) => `ideamine/v1/${name}`);
  const definition = protoLoader.loadSync(files, {
    includeDirs: [PROTO_DIR, join(ROOT, "third_party")],
    keepCase: true, // proto field names, as in the run file and the REST API
    longs: String,
    enums: String,
    defaults: true,
  });
  const enumValues = (name) => new Set(definition[`ideamine.v1.${name}`].type.value.map((v) => v.name));
  return {
    api: grpc.loadPackageDefinition(definition).ideamine.v1,
    phases: enumValues("Phase"),
    policies: enumValues("Policy"),
  };
}

/** Turn a run file (YAML or JSON, the format of examples/orchestrations/) into a Run message. */
function runFromFile(path, { phases, policies }) {
  let spec;
  try {
    spec = YAML.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new BadInput(`cannot read run file ${path}: ${err.message}`);
  }
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    throw new BadInput(`run file ${path} must be a mapping with at least an idea`);
  }
  const unknown = Object.keys(spec).filter((key) => !RUN_FILE_KEYS.has(key));
  if (unknown.length) throw new BadInput(`run file ${path}: unknown keys ${unknown.join(", ")}`);
  const requested = (spec.phases ?? []).map((name) => `PHASE_${String(name).toUpperCase().replaceAll("-", "_")}`);
  const badPhases = requested.filter((name) => !phases.has(name));
  if (badPhases.length) throw new BadInput(`run file ${path}: unknown phases ${badPhases.join(", ")}`);
  const policy = `POLICY_${String(spec.policy ?? "autonomous").toUpperCase()}`;
  if (!policies.has(policy)) throw new BadInput(`run file ${path}: unknown policy ${spec.policy}`);
  const budget = spec.budget ?? {};
  return {
    title: spec.title ?? "",
    idea: spec.idea ?? "",
    constraints: spec.constraints ?? {},
    requested_phases: requested,
    budget: {
      max_usd: budget.max_usd ?? 0,
      max_tokens: String(budget.max_tokens ?? 0),
      max_wall_clock_seconds: String(Math.round((budget.max_wall_clock_minutes ?? 0) * 60)),
    },
    policy,
  };
}

/** Call metadata: the bearer token when there is one. */
function credentials() {
  const metadata = new grpc.Metadata();
  const token = (process.env.IDEAMINE_TOKEN ?? "").trim();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/** A unary call as a promise, with a deadline. */
function unary(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + UNARY_DEADLINE_MS);
    client[method](request, metadata, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

/**
 * Print the run's events until the stream ends (the run ended) or the run stops for a person;
 * reconnect after UNAVAILABLE from the last seq seen.
 */
async function watch(runs, runId, metadata) {
  let seq = "0";
  for (let failures = 0; ; ) {
    try {
      await new Promise((resolve, reject) => {
        const stream = runs.WatchRun({ run_id: runId, after_seq: seq }, metadata);
        stream.on("data", ({ event }) => {
          failures = 0;
          seq = event.seq;
          const phase = event.phase === "PHASE_UNSPECIFIED" ? "" : event.phase.replace("PHASE_", "").toLowerCase();
          console.log(`${event.seq.padStart(6)} ${event.type.padEnd(22)} ${phase}`);
          if (STOPPED_EVENTS.has(event.type)) {
            stream.cancel();
            resolve();
          }
        });
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      return;
    } catch (err) {
      failures += 1;
      if (err.code !== grpc.status.UNAVAILABLE || failures >= MAX_RECONNECTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** failures));
    }
  }
}

async function main(argv) {
  if (argv.length !== 1 || argv[0].startsWith("-")) {
    throw new BadInput("usage: node examples/clients/node/client.mjs RUN_FILE");
  }
  const { api, ...enums } = loadApi();
  const run = runFromFile(argv[0], enums);
  const address = (process.env.IDEAMINE_ORCHESTRATOR_ADDR ?? "").trim() || "127.0.0.1:50051";
  const runs = new api.RunService(address, grpc.credentials.createInsecure());
  const metadata = credentials();
  try {
    const { run: created } = await unary(runs, "CreateRun", { run, request_id: randomUUID() }, metadata);
    console.log(`created run ${created.id} (${created.planned_phases.length} phases) on ${address}`);
    await watch(runs, created.id, metadata);
    const { run: final } = await unary(runs, "GetRun", { run_id: created.id }, metadata);
    const status = final.status.replace("RUN_STATUS_", "");
    const cost = Number(final.usage?.cost_usd ?? 0).toFixed(4);
    console.log(`run ${final.id}: ${status}${final.status_reason ? ` (${final.status_reason})` : ""} cost $${cost}`);
    return final.status === "RUN_STATUS_SUCCEEDED" ? 0 : EXIT_FAILED;
  } finally {
    runs.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof BadInput) {
      console.error(`error: ${err.message}`);
      process.exit(EXIT_BAD_INPUT);
    }
    if (typeof err.code === "number") {
      // a gRPC status: name it and give the server's message, never a stack trace
      const name = Object.keys(grpc.status).find((key) => grpc.status[key] === err.code) ?? err.code;
      console.error(`error: ${name}: ${err.details || err.message}`);
      process.exit(REFUSED.has(err.code) ? EXIT_BAD_INPUT : EXIT_FAILED);
    }
    console.error(`error: ${err.message ?? err}`);
    process.exit(EXIT_FAILED);
  },
);
