-- Real agents with keys that never enter a sandbox (docs/SECURITY.md#egress): per-workspace model
-- provider keys (encrypted), per-workspace egress policy, per-sandbox egress token, model usage.

-- CreateEnum
CREATE TYPE "EgressMode" AS ENUM ('deny', 'allowlist', 'allow');

-- AlterTable: the sandbox's egress token, as a SHA-256 hash.
ALTER TABLE "sandboxes" ADD COLUMN "egress_token_hash" TEXT;
CREATE UNIQUE INDEX "sandboxes_egress_token_hash_key" ON "sandboxes"("egress_token_hash");

-- AlterTable: model tokens per task and per tab.
ALTER TABLE "tasks" ADD COLUMN "input_tokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "output_tokens" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "workbench_sessions" ADD COLUMN "input_tokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "output_tokens" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "workspace_credentials" (
    "workspace_id" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "sealed_key" TEXT NOT NULL,
    "key_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workspace_credentials_pkey" PRIMARY KEY ("workspace_id","provider")
);

-- CreateTable
CREATE TABLE "workspace_egress_policies" (
    "workspace_id" TEXT NOT NULL,
    "mode" "EgressMode" NOT NULL,
    "hosts" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workspace_egress_policies_pkey" PRIMARY KEY ("workspace_id")
);

-- CreateTable
CREATE TABLE "model_usage" (
    "id" BIGSERIAL NOT NULL,
    "task_id" UUID NOT NULL,
    "session_id" TEXT,
    "provider" TEXT NOT NULL,
    "model" TEXT,
    "input_tokens" INTEGER NOT NULL,
    "output_tokens" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_usage_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "model_usage_task_id_created_at_idx" ON "model_usage"("task_id", "created_at");
