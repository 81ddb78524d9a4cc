;;; eglot.el --- A user's flow in a real Emacs with eglot, in batch mode, against the real `samokoder'  -*- lexical-binding: t; -*-

;; Open a TypeScript file, pick "Samokoder: implement this" from `eglot-code-actions' on its
;; TODO(samokoder) comment and say yes to eglot's "Server wants to edit" question; see the edit land in
;; the unsaved buffer; break the code by hand and pick "Samokoder: run tests"; open the failing test and pick
;; "Samokoder: fix this" on its diagnostic (flymake's, as eglot reports it). What happened goes to
;; $SAMOKODER_EDITOR_RESULT as JSON for the Rust test to judge. The menu is answered by replacing
;; `completing-read', which is what the user sees.
;;
;; Run as `emacs -batch -l eglot.el' (not -Q: Debian's elpa-eglot loads from site-start).

(load (expand-file-name "eglot_common.el" (file-name-directory load-file-name)) nil t)

;; The project is the workspace directory; .ts files are edited in js-mode (Emacs 28 has no TypeScript mode).
(add-hook 'project-find-functions (lambda (_dir) (cons 'transient sk-root)))
(add-to-list 'auto-mode-alist '("\\.ts\\'" . js-mode))
(add-to-list 'eglot-server-programs `(js-mode . (,sk-bin)))
(add-hook 'js-mode-hook #'eglot-ensure)
(setq eglot-sync-connect t)

(defun sk-pick (wanted)
  "Runs eglot-code-actions at point and picks the entry starting with WANTED; returns the titles offered."
  (let ((offered nil)
        (last-nonmenu-event ?a))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq offered (mapcar (lambda (c) (if (consp c) (car c) c)) collection))
                 (or (cl-find-if (lambda (title) (string-prefix-p wanted title)) offered)
                     (sk-finish (format "no \"%s\" among %S" wanted offered)))))
              ((symbol-function 'y-or-n-p)
               (lambda (prompt) (push prompt sk-edit-questions) t)))
      (call-interactively #'eglot-code-actions))
    offered))

(condition-case err
    (let* ((source (sk-visit "src/clamp.ts"))
           (server (eglot-current-server)))
      (sk-note 'offset_encoding
               (let ((enc (plist-get (eglot--capabilities server) :positionEncoding))) (or enc "utf-16")))
      ;; 1. implement this, on the TODO comment.
      (sk-goto-line-containing "TODO(samokoder)")
      (forward-char 3)
      (sk-note 'offered_on_todo (vconcat (cl-letf (((symbol-function 'y-or-n-p)
                                                    (lambda (prompt) (push prompt sk-edit-questions) t)))
                                           (sk-pick "Samokoder: implement this"))))
      ;; The edit is a server request; eglot asks before applying it (`eglot-confirm-server-initiated-edits').
      (cl-letf (((symbol-function 'y-or-n-p) (lambda (prompt) (push prompt sk-edit-questions) t)))
        (sk-wait 120 "the implementation in the buffer"
                 (lambda () (with-current-buffer source
                              (string-match-p (regexp-quote sk-right) (buffer-string)))))
        (sk-note 'implemented_buffer (with-current-buffer source (buffer-substring-no-properties (point-min) (point-max))))
        (sk-note 'implemented_modified (if (buffer-modified-p source) t :json-false))
        (sk-wait 180 "the implement run to end" (lambda () (sk-said "implemented")))
        ;; 2. The user breaks it by hand (unsaved), then runs the tests from the menu.
        (with-current-buffer source
          (sk-goto-line-containing sk-right)
          (delete-region (line-beginning-position) (line-end-position))
          (insert "  return Math.min(value, max);")
          (sk-pick "Samokoder: run tests"))
        (sk-wait 180 "the test run to end" (lambda () (sk-said "1 test failed")))
        ;; 3. Open the failing test: its diagnostic is there (flymake), and "fix this" is on it.
        (let ((tests (sk-visit "test/clamp.test.ts")))
          (flymake-start)
          (sk-wait 30 "the failing test's diagnostic"
                   (lambda () (with-current-buffer tests (flymake-diagnostics (point-min) (point-max)))))
          (let ((diagnostic (car (flymake-diagnostics (point-min) (point-max)))))
            (goto-char (flymake-diagnostic-beg diagnostic))
            (sk-note 'diagnostic
                     (let ((lsp (cdr (assoc 'eglot-lsp-diag (eglot--diag-data diagnostic)))))
                       (list (cons 'line (1- (line-number-at-pos)))
                             (cons 'message (flymake-diagnostic-text diagnostic))
                             (cons 'source (plist-get lsp :source)))))
            (sk-note 'offered_on_diagnostic (vconcat (sk-pick "Samokoder: fix this")))))
        (sk-wait 240 "the fix in the source buffer"
                 (lambda () (with-current-buffer source
                              (string-match-p (regexp-quote sk-right) (buffer-string)))))
        (sk-wait 240 "the fix run to end" (lambda () (sk-said "fixed in"))))
      (sk-note 'fixed_buffer (with-current-buffer source (buffer-substring-no-properties (point-min) (point-max))))
      (sk-note 'fixed_modified (if (buffer-modified-p source) t :json-false))
      (sk-note 'edit_questions (vconcat sk-edit-questions))
      (sk-note 'disk (with-temp-buffer
                       (insert-file-contents (expand-file-name "src/clamp.ts" sk-root))
                       (buffer-string)))
      (sk-finish nil))
  (error (sk-finish (format "%S; messages: %S" err sk-messages))))
