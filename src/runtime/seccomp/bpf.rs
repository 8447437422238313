//! The filter as a classic BPF program, the form the kernel runs on every system call.
//!
//! Layout: the architecture is checked first (any other, and x86-64's x32 numbers, kill the
//! process: their numbers mean other calls); then the call's number is looked up by a binary
//! search over the ranges of numbers that share one outcome, so a call costs about ten jumps,
//! not one compare per rule; a call with rules has its own block, where each rule's argument
//! conditions are tested in order and the first rule whose conditions all hold gives its action,
//! else the default. Arguments are 64 bits and BPF compares 32, so each compare reads the high
//! half, then the low one. Every block ends in a return, so blocks can be placed one after
//! another with jumps relative to themselves only.

use std::collections::BTreeMap;

/// `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Instruction {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const LOAD_WORD: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS
const AND: u16 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
const JUMP: u16 = 0x05; // BPF_JMP | BPF_JA (0)
const JUMP_EQ: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const JUMP_GT: u16 = 0x05 | 0x20;
const JUMP_GE: u16 = 0x05 | 0x30;
const RETURN: u16 = 0x06; // BPF_RET | BPF_K

/// Offsets in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
const ARGS_OFFSET: u32 = 16;

pub(super) const RET_KILL_PROCESS: u32 = 0x8000_0000;

#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// x86-64 numbers with this bit set are x32 calls.
#[cfg(target_arch = "x86_64")]
const X32_BIT: u32 = 0x4000_0000;

/// The longest program the kernel takes (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;

/// How a condition compares an argument with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compare {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    /// `(argument & mask) == value`.
    MaskedEqual {
        mask: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Condition {
    /// 0 to 5.
    pub argument: u8,
    pub compare: Compare,
    pub value: u64,
}

/// One rule of one call: when every condition holds, `action` (a `SECCOMP_RET_*` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    pub conditions: Vec<Condition>,
    pub action: u32,
}

/// A filter as plain data: the rules of each call by number, in the order they are tried.
#[derive(Debug, Clone, Default)]
pub(super) struct Filter {
    pub default_action: u32,
    pub calls: BTreeMap<u32, Vec<Rule>>,
}

fn load(offset: u32) -> Instruction {
    Instruction {
        code: LOAD_WORD,
        jt: 0,
        jf: 0,
        k: offset,
    }
}

fn ret(action: u32) -> Instruction {
    Instruction {
        code: RETURN,
        jt: 0,
        jf: 0,
        k: action,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction { code, jt, jf, k }
}

impl Filter {
    pub(super) fn compile(&self) -> Result<Vec<Instruction>, String> {
        let mut program = vec![
            load(ARCH_OFFSET),
            jump(JUMP_EQ, NATIVE_ARCH, 1, 0),
            ret(RET_KILL_PROCESS),
            load(NR_OFFSET),
        ];
        #[cfg(target_arch = "x86_64")]
        program.extend([jump(JUMP_GE, X32_BIT, 0, 1), ret(RET_KILL_PROCESS)]);
        program.extend(dispatch(&self.segments()));
        if program.len() > MAX_INSTRUCTIONS {
            return Err(format!(
                "the seccomp filter needs {} instructions, more than the kernel's {MAX_INSTRUCTIONS}",
                program.len()
            ));
        }
        Ok(program)
    }

    /// The whole number range as consecutive pieces, each with its code: a call with rules, or
    /// a run of numbers that all get the same action. Each piece starts at the given number.
    fn segments(&self) -> Vec<(u32, Vec<Instruction>)> {
        let mut segments: Vec<(u32, Vec<Instruction>)> = Vec::new();
        let mut push = |start: u32, code: Vec<Instruction>| match segments.last() {
            Some((_, last)) if *last == code => {}
            _ => segments.push((start, code)),
        };
        let mut next = 0u32;
        for (&number, rules) in &self.calls {
            if number > next {
                push(next, vec![ret(self.default_action)]);
            }
            push(number, self.call_block(rules));
            next = number.saturating_add(1);
        }
        if self.calls.keys().last() != Some(&u32::MAX) {
            push(next, vec![ret(self.default_action)]);
        }
        segments
    }

    fn call_block(&self, rules: &[Rule]) -> Vec<Instruction> {
        let mut block = Vec::new();
        for rule in rules {
            if rule.conditions.is_empty() {
                // Nothing after an unconditional rule is ever reached.
                block.push(ret(rule.action));
                return block;
            }
            block.extend(rule_code(rule));
        }
        block.push(ret(self.default_action));
        block
    }
}

/// Where a jump of a condition's code goes.
#[derive(Clone, Copy)]
enum Target {
    /// The next instruction.
    Next,
    /// The condition holds: on to the next condition (or the rule's return).
    Holds,
    /// It does not: on to the next rule.
    Fails,
}

fn rule_code(rule: &Rule) -> Vec<Instruction> {
    let conditions: Vec<Vec<(Instruction, Target, Target)>> =
        rule.conditions.iter().map(condition_code).collect();
    let length = conditions.iter().map(Vec::len).sum::<usize>() + 1;
    let mut code = Vec::with_capacity(length);
    for condition in conditions {
        let end = code.len() + condition.len();
        for (instruction, when_true, when_false) in condition {
            let here = code.len() + 1;
            // A rule has at most six conditions (one per argument) of at most six instructions.
            let offset = |target: Target| match target {
                Target::Next => 0,
                Target::Holds => (end - here) as u8,
                Target::Fails => (length - here) as u8,
            };
            code.push(Instruction {
                jt: offset(when_true),
                jf: offset(when_false),
                ..instruction
            });
        }
    }
    code.push(ret(rule.action));
    code
}

/// One condition, as loads of the argument's halves (little-endian: the low half first in
/// memory) and compares; only the compare instructions' targets matter.
fn condition_code(condition: &Condition) -> Vec<(Instruction, Target, Target)> {
    use Target::{Fails, Holds, Next};
    let offset = ARGS_OFFSET + 8 * u32::from(condition.argument);
    let (low, high) = (offset, offset + 4);
    let half = |value: u64| ((value >> 32) as u32, value as u32);
    let (value_high, value_low) = half(condition.value);
    let plain = |instruction| (instruction, Next, Next);
    let test = |code, k, when_true, when_false| (jump(code, k, 0, 0), when_true, when_false);
    match condition.compare {
        Compare::Equal => vec![
            plain(load(high)),
            test(JUMP_EQ, value_high, Next, Fails),
            plain(load(low)),
            test(JUMP_EQ, value_low, Holds, Fails),
        ],
        Compare::NotEqual => vec![
            plain(load(high)),
            test(JUMP_EQ, value_high, Next, Holds),
            plain(load(low)),
            test(JUMP_EQ, value_low, Fails, Holds),
        ],
        Compare::MaskedEqual { mask } => {
            let (mask_high, mask_low) = half(mask);
            let and = |k| plain(jump(AND, k, 0, 0));
            vec![
                plain(load(high)),
                and(mask_high),
                test(JUMP_EQ, value_high, Next, Fails),
                plain(load(low)),
                and(mask_low),
                test(JUMP_EQ, value_low, Holds, Fails),
            ]
        }
        // Greater or not: the high halves decide unless they are equal, then the low ones.
        Compare::Greater | Compare::GreaterOrEqual => vec![
            plain(load(high)),
            test(JUMP_GT, value_high, Holds, Next),
            test(JUMP_EQ, value_high, Next, Fails),
            plain(load(low)),
            match condition.compare {
                Compare::Greater => test(JUMP_GT, value_low, Holds, Fails),
                _ => test(JUMP_GE, value_low, Holds, Fails),
            },
        ],
        Compare::Less | Compare::LessOrEqual => vec![
            plain(load(high)),
            test(JUMP_GT, value_high, Fails, Next),
            test(JUMP_EQ, value_high, Next, Holds),
            plain(load(low)),
            match condition.compare {
                Compare::Less => test(JUMP_GE, value_low, Fails, Holds),
                _ => test(JUMP_GT, value_low, Fails, Holds),
            },
        ],
    }
}

/// A binary search over the segments: each node sends numbers from the middle segment's start
/// up to the right half, placed after the left one. A left half too long for a conditional
/// jump's 8-bit offset is stepped over by an unconditional jump.
fn dispatch(segments: &[(u32, Vec<Instruction>)]) -> Vec<Instruction> {
    if let [(_, code)] = segments {
        return code.clone();
    }
    let middle = segments.len() / 2;
    let left = dispatch(&segments[..middle]);
    let right = dispatch(&segments[middle..]);
    let start = segments[middle].0;
    let mut code = Vec::with_capacity(left.len() + right.len() + 2);
    match u8::try_from(left.len()) {
        Ok(skip) => code.push(jump(JUMP_GE, start, skip, 0)),
        Err(_) => code.extend([
            jump(JUMP_GE, start, 0, 1),
            jump(JUMP, left.len() as u32, 0, 0),
        ]),
    }
    code.extend(left);
    code.extend(right);
    code
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The call a test program sees: `struct seccomp_data`.
    pub(crate) struct Call {
        pub arch: u32,
        pub number: u32,
        pub args: [u64; 6],
    }

    impl Call {
        pub(crate) fn native(number: u32, args: &[u64]) -> Call {
            let mut all = [0; 6];
            all[..args.len()].copy_from_slice(args);
            Call {
                arch: NATIVE_ARCH,
                number,
                args: all,
            }
        }

        fn word(&self, offset: u32) -> u32 {
            match offset {
                NR_OFFSET => self.number,
                ARCH_OFFSET => self.arch,
                _ => {
                    let index = ((offset - ARGS_OFFSET) / 8) as usize;
                    let value = self.args[index];
                    if (offset - ARGS_OFFSET).is_multiple_of(8) {
                        value as u32
                    } else {
                        (value >> 32) as u32
                    }
                }
            }
        }
    }

    /// Runs `program` as the kernel would, on the few instructions the compiler emits; panics
    /// on anything else or on running off the end.
    pub(crate) fn run(program: &[Instruction], call: &Call) -> u32 {
        let (mut pc, mut accumulator) = (0usize, 0u32);
        loop {
            let instruction = program[pc];
            pc += 1;
            let branch = |taken: bool| {
                usize::from(if taken {
                    instruction.jt
                } else {
                    instruction.jf
                })
            };
            match instruction.code {
                LOAD_WORD => accumulator = call.word(instruction.k),
                AND => accumulator &= instruction.k,
                JUMP => pc += instruction.k as usize,
                JUMP_EQ => pc += branch(accumulator == instruction.k),
                JUMP_GT => pc += branch(accumulator > instruction.k),
                JUMP_GE => pc += branch(accumulator >= instruction.k),
                RETURN => return instruction.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    const ALLOW: u32 = 0x7fff_0000;
    const EPERM: u32 = 0x0005_0001;
    const ENOSYS: u32 = 0x0005_0026;

    fn rule(conditions: &[(u8, Compare, u64)], action: u32) -> Rule {
        Rule {
            conditions: conditions
                .iter()
                .map(|&(argument, compare, value)| Condition {
                    argument,
                    compare,
                    value,
                })
                .collect(),
            action,
        }
    }

    #[test]
    fn dispatches_many_calls_with_their_own_actions() {
        // Enough calls, spread out, for the search to need long jumps.
        let mut filter = Filter {
            default_action: ENOSYS,
            ..Filter::default()
        };
        for number in (0..900).step_by(3) {
            let action = if number % 2 == 0 {
                ALLOW
            } else {
                0x0005_0000 | number
            };
            filter.calls.insert(number, vec![rule(&[], action)]);
        }
        let program = filter.compile().unwrap();
        for number in 0..1000 {
            let expected = match filter.calls.get(&number) {
                Some(rules) => rules[0].action,
                None => ENOSYS,
            };
            assert_eq!(
                run(&program, &Call::native(number, &[])),
                expected,
                "{number}"
            );
        }
        assert_eq!(run(&program, &Call::native(0x3fff_ffff, &[])), ENOSYS);
    }

    #[test]
    fn refuses_other_architectures() {
        let filter = Filter {
            default_action: ALLOW,
            ..Filter::default()
        };
        let program = filter.compile().unwrap();
        let mut call = Call::native(1, &[]);
        assert_eq!(run(&program, &call), ALLOW);
        call.arch = 0x4000_0003; // AUDIT_ARCH_I386
        assert_eq!(run(&program, &call), RET_KILL_PROCESS);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            run(&program, &Call::native(X32_BIT | 1, &[])),
            RET_KILL_PROCESS
        );
    }

    #[test]
    fn compares_64_bit_arguments() {
        let big = 0x1_0000_0005u64;
        let cases: &[(Compare, &[(u64, bool)])] = &[
            (
                Compare::Equal,
                &[(big, true), (5, false), (0x2_0000_0005, false)],
            ),
            (
                Compare::NotEqual,
                &[(big, false), (5, true), (0x1_0000_0006, true)],
            ),
            (
                Compare::Greater,
                &[
                    (big, false),
                    (big + 1, true),
                    (0x2_0000_0000, true),
                    (u32::MAX as u64, false),
                ],
            ),
            (
                Compare::GreaterOrEqual,
                &[(big, true), (big - 1, false), (u64::MAX, true)],
            ),
            (
                Compare::Less,
                &[
                    (big, false),
                    (big - 1, true),
                    (0x2_0000_0000, false),
                    (0, true),
                ],
            ),
            (
                Compare::LessOrEqual,
                &[(big, true), (big + 1, false), (7, true)],
            ),
            (
                Compare::MaskedEqual {
                    mask: 0xff_0000_00ff,
                },
                &[
                    (0x2_0000_0005, false),
                    (0x1_1234_5605, true),
                    (0x1_0000_0105, true),
                    (big + 1, false),
                ],
            ),
        ];
        for (compare, values) in cases {
            let filter = Filter {
                default_action: ENOSYS,
                calls: [(7, vec![rule(&[(2, *compare, big)], ALLOW)])].into(),
            };
            let program = filter.compile().unwrap();
            for (argument, holds) in *values {
                let got = run(&program, &Call::native(7, &[0, 0, *argument]));
                let expected = if *holds { ALLOW } else { ENOSYS };
                assert_eq!(got, expected, "{compare:?} {argument:#x}");
            }
        }
    }

    #[test]
    fn the_first_rule_whose_conditions_all_hold_decides() {
        let einval = 0x0005_0016;
        let rules = vec![
            rule(&[(0, Compare::Equal, 16), (2, Compare::Equal, 9)], einval),
            rule(&[(2, Compare::NotEqual, 9)], ALLOW),
            rule(&[(0, Compare::NotEqual, 16)], ALLOW),
        ];
        let filter = Filter {
            default_action: EPERM,
            calls: [(41, rules)].into(),
        };
        let program = filter.compile().unwrap();
        let socket = |args: &[u64]| run(&program, &Call::native(41, args));
        assert_eq!(socket(&[16, 3, 9]), einval);
        assert_eq!(socket(&[16, 3, 0]), ALLOW);
        assert_eq!(socket(&[2, 1, 9]), ALLOW);
        assert_eq!(socket(&[2, 1, 0]), ALLOW);
    }
}
