# bash completion for vnumactl
# Verbs and options as vnumactl --help lists them (tests/unit/test-completion.py checks it);
# VM names from the daemon (`vnumactl --json status`, on the --socket given) and, for the policy
# verbs, libvirt domains from `virsh list --all --name` (on the -c/--connect URI given).

# The VMs vnumad manages: the "name" keys after "vms" in its status document.
_vnumactl_vms() {
        local -a args=()
        [[ -n $1 ]] && args=(--socket "$1")
        vnumactl "${args[@]}" --json status 2>/dev/null |
                sed -n '/^ *"vms":/,$ s/^ *"name": *"\([^"]*\)".*/\1/p'
}

_vnumactl_domains() {
        type -P virsh &>/dev/null || return 0
        local -a args=()
        [[ -n $1 ]] && args=(-c "$1")
        virsh "${args[@]}" -q list --all --name 2>/dev/null
}

_vnumactl() {
        local cur prev words cword
        _init_completion -n =: || return
        local verbs="show topology status rebalance policy explain metrics advise top wait"
        local opts="--qmp --socket --json --dry-run -c --connect --config --live --timeout --sysfs-root
                    --procfs-root -h --help --version --wait --locality -d --delay -n --iterations -s --sort"
        local policy_keys="mode= nodes= pin= migrate-rate= cell="

        case $prev in
                --qmp | --socket) _filedir; return ;;
                --sysfs-root | --procfs-root) _filedir -d; return ;;
                --timeout | -c | --connect | -w) return ;; # a number, a URI, VCPUS[:MEM_MB]
                --locality | -d | --delay | -n | --iterations) return ;; # numbers
                -s | --sort) COMPREPLY=($(compgen -W "locality off-home rate wait name" -- "$cur")); return ;;
        esac
        if [[ $cur == -* ]]; then
                # advise has numad's -w and options of its own (vnumactl advise --help).
                if [[ " ${words[*]:1:cword-1} " == *" advise "* ]]; then
                        COMPREPLY=($(compgen -W "-w --json --socket --timeout --sysfs-root --procfs-root -h --help" -- "$cur"))
                        return
                fi
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
                return
        fi

        # The words that are not options nor option arguments: verb, then its arguments.
        local i socket= uri= w
        local -a args=()
        for ((i = 1; i < cword; i++)); do
                w=${words[i]}
                case $w in
                        --socket) socket=${words[i + 1]}; ((i++)); continue ;;
                        -c | --connect) uri=${words[i + 1]}; ((i++)); continue ;;
                        --qmp | --timeout | --sysfs-root | --procfs-root | -w) ((i++)); continue ;;
                        --locality | -d | --delay | -n | --iterations | -s | --sort) ((i++)); continue ;;
                        --socket=*) socket=${w#*=}; continue ;;
                        --connect=*) uri=${w#*=}; continue ;;
                        -*) continue ;;
                esac
                args+=("$w")
        done

        local verb=${args[0]-}
        case ${#args[@]},$verb in
                0,*)
                        COMPREPLY=($(compgen -W "$verbs" -- "$cur")) ;;
                1,show | 1,rebalance | 1,explain | *,top | *,wait)
                        COMPREPLY=($(compgen -W "$(_vnumactl_vms "$socket")" -- "$cur")) ;;
                1,policy)
                        COMPREPLY=($(compgen -W "get set clear" -- "$cur")) ;;
                2,policy)
                        # A libvirt domain (get also asks the daemon about the rest).
                        local names
                        names="$(_vnumactl_domains "$uri") $(_vnumactl_vms "$socket")"
                        COMPREPLY=($(compgen -W "$names" -- "$cur")) ;;
                *,policy)
                        [[ ${args[1]} == set ]] || return
                        case $cur in
                                # bash breaks the word at "=": only the value is replaced.
                                mode=*) COMPREPLY=($(compgen -W "auto strict preferred interleave observe off" -- "${cur#mode=}")) ;;
                                pin=*) COMPREPLY=($(compgen -W "vcpus none" -- "${cur#pin=}")) ;;
                                *=*) ;;
                                *)
                                        COMPREPLY=($(compgen -W "$policy_keys" -- "$cur"))
                                        compopt -o nospace 2>/dev/null ;;
                        esac ;;
        esac
}
complete -F _vnumactl vnumactl
