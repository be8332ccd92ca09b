// `ketch completion bash|zsh`: shell completion for verbs, flags, resource types and (asking the server) names.
import type { Command } from 'commander';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash or zsh): source <(ketch completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string, _flags: unknown, cmd: Command) => {
      const cli = cliOf(cmd);
      const verbs = program.commands.map((c) => c.name()).join(' ');
      const nameVerbs = 'get describe delete edit label annotate patch scale why wait logs exec attach port-forward rollout cordon uncordon drain top';
      const types = 'pods po deployments deploy replicasets rs services svc nodes no namespaces ns configmaps cm secrets events ev serviceaccounts sa daemonsets ds statefulsets sts jobs leases endpoints';
      const bash = `# bash completion for ketch
_ketch() {
  local cur prev words cword
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local verbs="${verbs}"
  if [[ \$COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( \$(compgen -W "\$verbs" -- "\$cur") ); return
  fi
  local verb="\${COMP_WORDS[1]}"
  case "\$prev" in
    -n|--namespace) COMPREPLY=( \$(compgen -W "\$(ketch get ns -o jsonpath='{.items[*].metadata.name}' 2>/dev/null)" -- "\$cur") ); return;;
    --context) COMPREPLY=( \$(compgen -W "\$(sed -n 's/^- *name: *//p' \${KUBECONFIG:-~/.kube/config} 2>/dev/null)" -- "\$cur") ); return;;
    -o|--output) COMPREPLY=( \$(compgen -W "json yaml name wide jsonpath= custom-columns=" -- "\$cur") ); return;;
  esac
  if [[ \$cur == -* ]]; then
    COMPREPLY=( \$(compgen -W "\$(ketch \$verb --help 2>/dev/null | grep -oE -- '--[a-z-]+' | sort -u)" -- "\$cur") ); return
  fi
  if [[ " ${nameVerbs} " == *" \$verb "* ]]; then
    if [[ \$COMP_CWORD -eq 2 ]]; then
      COMPREPLY=( \$(compgen -W "${types}" -- "\$cur") ); return
    fi
    local type="\${COMP_WORDS[2]}"
    COMPREPLY=( \$(compgen -W "\$(ketch get "\$type" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null)" -- "\$cur") )
  fi
}
complete -F _ketch ketch
`;
      if (shell === 'bash') cli.io.stdout.write(bash);
      else if (shell === 'zsh') cli.io.stdout.write(`#compdef ketch\nautoload -U +X bashcompinit && bashcompinit\n${bash}`);
      else throw new CliError(`Unsupported shell type "${shell}".`);
    });
}
