-- CreateEnum
CREATE TYPE "WorkbenchSessionStatus" AS ENUM ('pending_provision', 'pending_session_create', 'ready', 'running', 'error');

-- CreateTable
CREATE TABLE "workbench_sessions" (
    "id" TEXT NOT NULL,
    "task_id" UUID NOT NULL,
    "ordinal" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "agent" TEXT NOT NULL,
    "model" TEXT,
    "status" "WorkbenchSessionStatus" NOT NULL DEFAULT 'pending_provision',
    "error_message" TEXT,
    "session_key" TEXT NOT NULL,
    "sandbox_id" UUID,
    "sandbox_session_id" TEXT,
    "unread" BOOLEAN NOT NULL DEFAULT false,
    "draft" TEXT NOT NULL DEFAULT '',
    "closed" BOOLEAN NOT NULL DEFAULT false,
    "closed_at" TIMESTAMPTZ(3),
    "thinking_since" TIMESTAMPTZ(3),
    "workflow_id" TEXT NOT NULL,
    "last_entry_index" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workbench_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "transcript_entries" (
    "id" BIGSERIAL NOT NULL,
    "session_id" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "role" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "reply_to" INTEGER,
    "delivery" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "transcript_entries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "workbench_sessions_workflow_id_key" ON "workbench_sessions"("workflow_id");

-- CreateIndex
CREATE UNIQUE INDEX "workbench_sessions_task_id_ordinal_key" ON "workbench_sessions"("task_id", "ordinal");

-- CreateIndex
CREATE UNIQUE INDEX "transcript_entries_session_id_index_key" ON "transcript_entries"("session_id", "index");

-- AddForeignKey
ALTER TABLE "workbench_sessions" ADD CONSTRAINT "workbench_sessions_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "transcript_entries" ADD CONSTRAINT "transcript_entries_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "workbench_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
