// The page script esbuild bundles: runs the exercise with the inputs the test serves.
import { exercise } from "./exercise.mjs";

const input = await (await fetch("./input.json")).json();
try {
  window.__result = await exercise(input);
} catch (e) {
  window.__error = String(e?.stack ?? e);
}
