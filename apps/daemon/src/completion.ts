/**
 * Shell completion of tipcctl, generated from its commander program: commands, subcommands and
 * options at every level, and the choices of options and arguments that have them.
 */
import type { Argument, Command, Option } from "commander";

interface Node {
  words: string[];
  options: string[];
  /** option (long name) -> its choices */
  optionChoices: Record<string, string[]>;
  /** choices of the first argument, when it has some */
  argChoices: string[];
}

/** Every command path ("" for the top), with what may follow it. */
function walk(cmd: Command, path: string[], out: Map<string, Node>): void {
  const options = (cmd.options as readonly Option[]).flatMap(
    (o) => [o.short, o.long].filter(Boolean) as string[],
  );
  const optionChoices: Record<string, string[]> = {};
  for (const o of cmd.options as readonly Option[])
    if (o.long && o.argChoices) optionChoices[o.long] = o.argChoices;
  const args = (cmd as unknown as { registeredArguments?: readonly Argument[] }).registeredArguments ?? [];
  out.set(path.join(" "), {
    words: cmd.commands.map((c) => c.name()),
    options: [...options, "--help"],
    optionChoices,
    argChoices: args[0]?.argChoices ?? [],
  });
  for (const c of cmd.commands) walk(c, [...path, c.name()], out);
}

const quote = (words: readonly string[]) => words.join(" ");

export function completionScript(program: Command, shell: "bash" | "zsh"): string {
  const tree = new Map<string, Node>();
  walk(program, [], tree);
  // one case per command path: the words that may come next
  const cases: string[] = [];
  const optCases: string[] = [];
  for (const [path, n] of tree) {
    const next = [...n.words, ...n.argChoices, ...n.options];
    cases.push(`    "${path}") words="${quote(next)}" ;;`);
    for (const [opt, choices] of Object.entries(n.optionChoices))
      optCases.push(`    "${path}|${opt}") words="${quote(choices)}" ;;`);
  }
  const body = `# the command path so far (words that are commands), and the word before the cursor
_tipcctl_words() {
  local path="" w i
  for ((i = 1; i < cword; i++)); do
    w="\${cwords[i]}"
    case "$w" in -*) continue ;; esac
    case "$(_tipcctl_next "$path")" in
      *" $w "*) path="\${path:+$path }$w" ;;
    esac
  done
  local prev="\${cwords[cword-1]}"
  local words=""
  case "$path|$prev" in
${optCases.join("\n")}
    *)
      words="$(_tipcctl_next "$path")" ;;
  esac
  echo "$words"
}
_tipcctl_next() {
  local words=""
  case "$1" in
${cases.join("\n")}
  esac
  echo " $words "
}`;
  if (shell === "bash")
    return `# tipcctl completion for bash: source <(tipcctl completion bash)
${body}
_tipcctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local -a cwords=("\${COMP_WORDS[@]}")
  local cword=$COMP_CWORD
  COMPREPLY=($(compgen -W "$(_tipcctl_words)" -- "$cur"))
}
complete -F _tipcctl tipcctl
`;
  return `#compdef tipcctl
# tipcctl completion for zsh: source <(tipcctl completion zsh), or save as _tipcctl in $fpath
${body}
_tipcctl() {
  # as bash's COMP_WORDS without the command: cwords[1] is the first argument
  local -a cwords
  cwords=("\${(@)words[2,-1]}")
  local cword=$((CURRENT - 1))
  local -a reply
  reply=(\${=$(_tipcctl_words)})
  compadd -- $reply
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _tipcctl "$@"
else
  compdef _tipcctl tipcctl
fi
`;
}
