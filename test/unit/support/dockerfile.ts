// A small Dockerfile reader for the checks that need no Docker engine: instructions grouped by
// stage, with continuation lines joined, comments dropped and `${ARG}` defaults substituted in
// FROM lines.

export interface Instruction {
  /** Upper-case keyword: FROM, COPY, RUN, ... */
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
  line: number;
}

export interface Stage {
  /** `AS <name>`, or the stage's index as a string. */
  name: string;
  /** The image after ARG substitution. */
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export interface Copy {
  from?: string;
  sources: string[];
  destination: string;
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  let pending: { text: string; line: number } | undefined;
  for (const [index, raw] of lines.entries()) {
    const trimmed = raw.trim();
    if (pending === undefined && (trimmed === '' || trimmed.startsWith('#'))) continue;
    // Comment lines inside a continued instruction are skipped, as Docker does.
    if (pending !== undefined && trimmed.startsWith('#')) continue;
    const continued = trimmed.endsWith('\\');
    const part = continued ? trimmed.slice(0, -1).trim() : trimmed;
    pending = pending
      ? { text: `${pending.text} ${part}`, line: pending.line }
      : { text: part, line: index + 1 };
    if (continued) continue;
    const match = /^(\S+)\s*(.*)$/s.exec(pending.text);
    if (match) {
      instructions.push({
        keyword: (match[1] ?? '').toUpperCase(),
        args: (match[2] ?? '').trim(),
        line: pending.line,
      });
    }
    pending = undefined;
  }

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!m) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      const base = (m[1] ?? '').replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_, name: string) => globalArgs[name] ?? '',
      );
      stages.push({ name: m[2] ?? String(stages.length), base, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage) {
      stage.instructions.push(instruction);
    } else if (instruction.keyword === 'ARG') {
      const [name, value = ''] = instruction.args.split('=', 2);
      globalArgs[(name ?? '').trim()] = value.trim();
    }
  }
  return { globalArgs, stages };
}

/** `COPY [--from=x] [--chown=..] src... dest`, shell or JSON form. */
export function parseCopy(instruction: Instruction): Copy {
  let rest = instruction.args;
  let from: string | undefined;
  for (;;) {
    const flag = /^--([a-z-]+)=(\S+)\s+/.exec(rest);
    if (!flag) break;
    if (flag[1] === 'from') from = flag[2];
    rest = rest.slice(flag[0].length);
  }
  const parts = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  const destination = parts.at(-1) ?? '';
  return { ...(from ? { from } : {}), sources: parts.slice(0, -1), destination };
}

/** The exec form of ENTRYPOINT/CMD as an array, or undefined for the shell form. */
export function execForm(instruction: Instruction): string[] | undefined {
  if (!instruction.args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(instruction.args);
  return Array.isArray(parsed) && parsed.every((p) => typeof p === 'string') ? parsed : undefined;
}

/** `ARG NAME=default` inside a stage. */
export function stageArgs(stage: Stage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === 'ARG')) {
    const [name, value = ''] = i.args.split('=', 2);
    out[(name ?? '').trim()] = value.trim();
  }
  return out;
}

/** `LABEL a="x" b="y"` pairs of a stage, quotes removed and ARGs substituted. */
export function stageLabels(stage: Stage): Record<string, string> {
  const args = stageArgs(stage);
  const out: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === 'LABEL')) {
    for (const m of i.args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
      const value = (m[2] ?? '').replace(/^"(.*)"$/s, '$1');
      out[m[1] ?? ''] = value.replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_, name: string) => args[name] ?? '',
      );
    }
  }
  return out;
}

/** The WORKDIR in effect at the end of a stage ('/' when none). */
export function workdir(stage: Stage): string {
  return stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
}
