-- CreateEnum
CREATE TYPE "TaskStatus" AS ENUM ('init_enqueue_provision', 'init_ensure_name', 'init_create_sandbox', 'init_ensure_agent', 'init_create_session', 'running', 'idle', 'error', 'archived', 'killed');

-- CreateEnum
CREATE TYPE "SandboxState" AS ENUM ('creating', 'ready', 'destroyed', 'error');

-- CreateTable
CREATE TABLE "tasks" (
    "id" UUID NOT NULL,
    "workspace_id" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "title" TEXT,
    "branch_name" TEXT,
    "requested_branch" TEXT,
    "provider_id" TEXT NOT NULL,
    "agent_type" TEXT NOT NULL,
    "status" "TaskStatus" NOT NULL DEFAULT 'init_enqueue_provision',
    "status_message" TEXT NOT NULL,
    "active_sandbox_id" UUID,
    "active_session_id" TEXT,
    "workflow_id" TEXT NOT NULL,
    "step_timings" JSONB NOT NULL DEFAULT '{}',
    "last_event_seq" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tasks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task_events" (
    "id" BIGSERIAL NOT NULL,
    "task_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "dedupe_key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "task_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sandboxes" (
    "id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "provider_id" TEXT NOT NULL,
    "provider_sandbox_id" TEXT,
    "directory" TEXT,
    "agent_endpoint" TEXT,
    "state" "SandboxState" NOT NULL DEFAULT 'creating',
    "details" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sandboxes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "tasks_workflow_id_key" ON "tasks"("workflow_id");

-- CreateIndex
CREATE INDEX "tasks_workspace_id_created_at_id_idx" ON "tasks"("workspace_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "task_events_task_id_seq_key" ON "task_events"("task_id", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "task_events_task_id_dedupe_key_key" ON "task_events"("task_id", "dedupe_key");

-- CreateIndex
CREATE INDEX "sandboxes_task_id_idx" ON "sandboxes"("task_id");

-- CreateIndex
CREATE UNIQUE INDEX "sandboxes_provider_id_provider_sandbox_id_key" ON "sandboxes"("provider_id", "provider_sandbox_id");

-- AddForeignKey
ALTER TABLE "task_events" ADD CONSTRAINT "task_events_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sandboxes" ADD CONSTRAINT "sandboxes_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE CASCADE ON UPDATE CASCADE;
