/// The plan `planbus demo` runs on its scratch project, and which task plays which part.
///
/// Every task has a `run` step, so the run needs no agent and no network. The plan is low risk,
/// gives each task two attempts, and gates every change on the project's own tests (`sh test.sh`):
///
/// - ``upper`` and ``count`` are independent: with the other independent tasks they are released
///   together, and two builders build them at the same time;
/// - ``shout`` depends on ``upper``: its change calls `lib/upper.sh`, so its gate passes only on a
///   base where `upper` is integrated;
/// - ``farewell`` gets the greeting wrong on attempt 1, so the test gate rejects it; attempt 2
///   reads the expected greeting out of `$PLANBUS_FEEDBACK` and is approved;
/// - ``docs`` also bumps `VERSION`, outside its scope, on both attempts, so it fails;
/// - ``reverse`` is a design competition of two candidates (`$PLANBUS_CANDIDATE`) with different
///   changes; the judge picks one.
public enum DemoPlan {
    public static let upper = "upper"
    public static let count = "count"
    public static let shout = "shout"
    public static let farewell = "farewell"
    public static let docs = "docs"
    public static let reverse = "reverse"
    /// The task ids, in the plan's order.
    public static let tasks = [upper, count, shout, farewell, docs, reverse]

    /// The plan's name.
    public static let name = "greet: capitals, counting, farewells and reversal"

    /// The plan file's text, for a repository at `repo` next to the plan file.
    public static let text = """
        # The plan planbus demo runs. Every task has a run step, so no agent is needed: each step
        # writes the change an agent would, quickly. planbus submit plan.yaml --dry-run shows its route.
        version: 1
        name: "\(name)"
        goal: |
          Teach the greet program to shout, count words, say goodbye and reverse text,
          each change checked by the project's own tests.
        risk: low
        repository: repo
        base_branch: main
        max_attempts: 2
        gates:
          - name: test
            command: [sh, test.sh]
            timeout: 30s
            protects: [tests/lib.sh]

        tasks:
          # Two independent tasks: released together, built at the same time by two builders.
          - id: \(upper)
            title: An upper-case function
            prompt: Add lib/upper.sh with a function upper TEXT that prints TEXT in capitals, and a test.
            scope: [lib/upper.sh, tests/test_upper.sh]
            run: |
              mkdir -p lib
              cat > lib/upper.sh <<'EOF'
              # upper TEXT: prints TEXT in capitals.
              upper() { printf '%s\\n' "$*" | tr '[:lower:]' '[:upper:]'; }
              EOF
              cat > tests/test_upper.sh <<'EOF'
              . tests/lib.sh
              . lib/upper.sh
              expect "HELLO, ADA!" "$(upper 'Hello, Ada!')"
              EOF

          - id: \(count)
            title: A word counter
            prompt: Add lib/count.sh with a function words TEXT that prints how many words TEXT has, and a test.
            scope: [lib/count.sh, tests/test_count.sh]
            run: |
              mkdir -p lib
              cat > lib/count.sh <<'EOF'
              # words TEXT: prints how many words TEXT has.
              words() { printf '%s\\n' "$*" | wc -w | tr -d ' '; }
              EOF
              cat > tests/test_count.sh <<'EOF'
              . tests/lib.sh
              . lib/count.sh
              expect 3 "$(words 'hello dear Ada')"
              EOF

          # A dependent task: released once upper is integrated, since it uses lib/upper.sh.
          - id: \(shout)
            title: greet --shout
            prompt: Add a --shout option to greet.sh that greets in capitals, using lib/upper.sh, and a test.
            scope: [greet.sh, tests/test_shout.sh]
            depends_on: [\(upper)]
            run: |
              cat > greet.sh <<'EOF'
              #!/bin/sh
              # greet [--shout] NAME: says hello to NAME (in capitals with --shout).
              set -eu
              . "$(dirname "$0")/lib/upper.sh"
              if [ "${1:-}" = --shout ]; then shift; upper "Hello, ${1:-world}!"; else echo "Hello, ${1:-world}!"; fi
              EOF
              cat > tests/test_shout.sh <<'EOF'
              . tests/lib.sh
              expect "HELLO, ADA!" "$(sh greet.sh --shout Ada)"
              EOF

          # Rejected by the test gate on attempt 1; attempt 2 takes the greeting the failing test
          # expected from the verifier's feedback ($PLANBUS_FEEDBACK) and is approved.
          - id: \(farewell)
            title: A farewell command
            prompt: Add bye.sh NAME, which says "Goodbye, NAME!", and a test.
            scope: [bye.sh, tests/test_bye.sh]
            run: |
              word=$(sed -n 's/.*expected "\\([A-Za-z]*\\), Ada!".*/\\1/p' "$PLANBUS_FEEDBACK" | head -n 1)
              echo "attempt $PLANBUS_ATTEMPT; greeting from the feedback: ${word:-none, guessing Bye}"
              cat > bye.sh <<EOF
              #!/bin/sh
              # bye NAME: says goodbye to NAME.
              echo "${word:-Bye}, \\${1:-world}!"
              EOF
              cat > tests/test_bye.sh <<'EOF'
              . tests/lib.sh
              expect "Goodbye, Ada!" "$(sh bye.sh Ada)"
              EOF

          # Writes outside its scope (VERSION) on every attempt: the verifier rejects it, and the
          # task fails after its two attempts.
          - id: \(docs)
            title: Usage notes
            prompt: Write docs/usage.md describing greet.sh and test.sh.
            scope: ["docs/**"]
            run: |
              mkdir -p docs
              printf '# Usage\\n\\n    sh greet.sh NAME\\n    sh test.sh\\n' > docs/usage.md
              echo 0.2.0 > VERSION

          # A design competition: two candidates build it differently, the judge picks one.
          - id: \(reverse)
            title: A reverse function
            prompt: Add lib/reverse.sh with a function reverse TEXT that prints TEXT backwards.
            scope: [lib/reverse.sh, tests/test_reverse.sh]
            candidates: 2
            run: |
              mkdir -p lib
              if [ "$PLANBUS_CANDIDATE" = 1 ]; then
                # Candidate 1: plain shell, one character at a time, no test.
                cat > lib/reverse.sh <<'EOF'
              # reverse TEXT: prints TEXT backwards.
              reverse() {
                s=$*; out=
                while [ -n "$s" ]; do rest=${s#?}; out=${s%"$rest"}$out; s=$rest; done
                printf '%s\\n' "$out"
              }
              EOF
              else
                # Candidate 2: rev(1), with a test.
                cat > lib/reverse.sh <<'EOF'
              # reverse TEXT: prints TEXT backwards.
              reverse() { printf '%s\\n' "$*" | rev; }
              EOF
                cat > tests/test_reverse.sh <<'EOF'
              . tests/lib.sh
              . lib/reverse.sh
              expect "adA" "$(reverse Ada)"
              EOF
              fi

        """
}
