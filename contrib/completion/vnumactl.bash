# bash completion for vnumactl
_vnumactl() {
        local cur prev words cword
        _init_completion || return
        local verbs="show topology status rebalance policy explain metrics"
        local opts="--qmp --socket --json --dry-run --timeout --sysfs-root --procfs-root --help --version"
        case $prev in
                --qmp|--socket) _filedir; return ;;
                --sysfs-root|--procfs-root) _filedir -d; return ;;
                policy) COMPREPLY=($(compgen -W "get" -- "$cur")); return ;;
        esac
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
                return
        fi
        local i verb=
        for ((i = 1; i < cword; i++)); do
                [[ ${words[i]} != -* && ${words[i-1]} != --@(qmp|socket|timeout|sysfs-root|procfs-root) ]] && { verb=${words[i]}; break; }
        done
        if [[ -z $verb ]]; then
                COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
        elif [[ $verb == @(show|rebalance|explain|policy) ]]; then
                local vms
                vms=$(vnumactl --json status 2>/dev/null | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
                COMPREPLY=($(compgen -W "$vms" -- "$cur"))
        fi
}
complete -F _vnumactl vnumactl
