# planbus: the two set-up commands of the README, and their parts.
#   make demo   install what is missing, build, run the demonstration
#   make test   install what is missing (with the test-only sshd, sshfs and redis-server), build, run
#               the whole test suite
#   make chaos  the chaos run

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps deps-test build test chaos demo bench lint clean

deps:
	@if ! dpkg -s libinotifytools0-dev >/dev/null 2>&1 || [ ! -f /usr/include/inotifytools/inotifytools.h ]; then \
		echo "installing libinotifytools0-dev"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libinotifytools0-dev; \
	fi

# The two-host tests mount the bus over sshfs from a private sshd on loopback, the benchmark
# report's client is tested against a private redis-server, and the durability tests watch the
# fsyncs of real workers with strace; without these packages those tests are skipped, each with a
# note.
TEST_PACKAGES := openssh-server sshfs redis-server strace

deps-test:
	@missing=""; for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (for the two-host, Redis and durability tests)"; \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; } \
			|| echo "could not install$$missing: the tests that need them will be skipped"; \
	fi

build: deps
	$(SWIFT) build

# The flood of 100,000 envelopes runs after the rest, so its disk traffic slows no other test.
test: deps deps-test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest --skip BadInputFloodTests
	$(SWIFT) test --skip-build --disable-xctest --filter BadInputFloodTests

# A plan of 200 tasks under planbus up while role processes, and the supervisor once, are SIGKILLed
# at random; exits 1 when a check fails.
chaos: deps
	$(SWIFT) build
	.build/debug/planbus bench chaos --tasks 200 --seed 42

demo: build
	.build/debug/planbus demo

bench: deps
	$(SWIFT) build -c release
	.build/release/planbus bench report

lint:
	$(SWIFT) format lint --strict -r Sources Tests

clean:
	rm -rf .build
