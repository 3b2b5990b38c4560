#!/usr/bin/env node
// Starts the upstream simulator and prints one JSON line, {"url":"http://127.0.0.1:PORT"}, once it
// listens. Nothing else goes to stdout. Stops cleanly on SIGINT or SIGTERM.
//   node tests/simulator/cli.mjs [--port N] [--records N] [--seed S] [--wechat-orders N]
//                                [--latency MS] [--typo-keys true|false|alternate]
//                                [--channels-aftersales N]
import { parseArgs } from "node:util";
import { startSimulator } from "./simulator.mjs";

function integer(name, text) {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a non-negative integer (got ${JSON.stringify(text)})`);
  return Number(text);
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      records: { type: "string" },
      seed: { type: "string" },
      "wechat-orders": { type: "string" },
      latency: { type: "string" },
      "typo-keys": { type: "string" },
      "channels-aftersales": { type: "string" },
    },
  });
  const typoKeys = { true: true, false: false, alternate: "alternate", undefined }[values["typo-keys"]];
  if (values["typo-keys"] !== undefined && typoKeys === undefined) throw new Error("--typo-keys must be true, false or alternate");
  const seed = values.seed === undefined ? undefined : /^\d+$/.test(values.seed) ? Number(values.seed) : values.seed;
  const sim = await startSimulator({
    port: integer("port", values.port),
    records: integer("records", values.records),
    seed,
    wechatOrders: integer("wechat-orders", values["wechat-orders"]),
    lingxingLatencyMs: integer("latency", values.latency),
    typoKeys,
    wechatChannels: values["channels-aftersales"] === undefined ? undefined : { aftersales: integer("channels-aftersales", values["channels-aftersales"]) },
  });
  process.stdout.write(`${JSON.stringify({ url: sim.url })}\n`);
  const stop = async () => {
    await sim.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error) => {
  process.stderr.write(`simulator: ${error.message}\n`);
  process.exit(1);
});
