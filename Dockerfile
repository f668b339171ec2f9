# syntax=docker/dockerfile:1.7
# Multi-stage build of the operator only (the emulator and test crates are not shipped).

# Pinned builder: the Rust version the project is tested with.
FROM docker.io/library/rust:1.95.0-bookworm AS builder
WORKDIR /src
# The whole workspace is needed for cargo to resolve it; .dockerignore keeps target/ and docs out.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release -p codeartifact-operator --bin codeartifact-operator \
 && install -D -m 0755 target/release/codeartifact-operator /out/codeartifact-operator

# Minimal runtime: glibc, CA certificates (for AWS and the API server), non-root user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="codeartifact-operator" \
      org.opencontainers.image.description="Private PyPI repositories on AWS CodeArtifact as Kubernetes resources" \
      org.opencontainers.image.source="https://github.com/codeartifact-operator/codeartifact-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/codeartifact-operator /usr/local/bin/codeartifact-operator
USER 65532:65532
# glibc gives each thread that allocates its own arena (up to 8 per core);
# the operator's few threads then hold free memory in several arenas. Two
# arenas keep its RSS close to its live heap (bench/results, issue 17).
ENV MALLOC_ARENA_MAX=2
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/codeartifact-operator"]
CMD ["run"]
