-- Warm sandbox pools (docs/ARCHITECTURE.md#warm-sandbox-pools): per workspace and repository, a number
-- of sandboxes kept cloned with sandbox-agent running, claimed by a new task's placement.

-- CreateEnum
CREATE TYPE "WarmSandboxState" AS ENUM ('warming', 'ready', 'expiring');

-- CreateTable
CREATE TABLE "sandbox_pools" (
    "id" UUID NOT NULL,
    "workspace_id" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "provider_id" TEXT NOT NULL,
    "agent" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "idle_timeout_seconds" INTEGER NOT NULL,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sandbox_pools_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "sandbox_pools_workspace_id_repository_provider_id_key" ON "sandbox_pools"("workspace_id", "repository", "provider_id");

-- CreateTable
CREATE TABLE "warm_sandboxes" (
    "id" UUID NOT NULL,
    "pool_id" UUID NOT NULL,
    "host_id" TEXT NOT NULL,
    "state" "WarmSandboxState" NOT NULL DEFAULT 'warming',
    "provider_sandbox_id" TEXT,
    "directory" TEXT,
    "agent_endpoint" TEXT,
    "details" JSONB NOT NULL DEFAULT '{}',
    "egress_token_hash" TEXT,
    "ready_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "warm_sandboxes_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "warm_sandboxes_egress_token_hash_key" ON "warm_sandboxes"("egress_token_hash");
CREATE INDEX "warm_sandboxes_pool_id_state_idx" ON "warm_sandboxes"("pool_id", "state");
CREATE INDEX "warm_sandboxes_host_id_idx" ON "warm_sandboxes"("host_id");
ALTER TABLE "warm_sandboxes" ADD CONSTRAINT "warm_sandboxes_pool_id_fkey" FOREIGN KEY ("pool_id") REFERENCES "sandbox_pools"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "warm_sandboxes" ADD CONSTRAINT "warm_sandboxes_host_id_fkey" FOREIGN KEY ("host_id") REFERENCES "sandbox_hosts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
