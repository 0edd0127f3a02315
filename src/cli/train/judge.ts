export { registerTrainJudge as register } from "../judge.ts";
