;;; eglot_package.el --- editors/emacs/samokoder.el in a real Emacs with eglot, batch mode  -*- lexical-binding: t; -*-

;; Load the package, let `samokoder-eglot-setup' register the server, open a TypeScript file, and use
;; the package's commands: M-x samokoder-implement on the TODO(samokoder) comment, then (after a
;; hand-made bug) the code action "Samokoder: run tests", then M-x samokoder-fix on the failing test's line;
;; *samokoder-log* and samokoder-status along the way. What happened goes to $SAMOKODER_EDITOR_RESULT.
;;
;; Run as `emacs -batch -l eglot_package.el' (not -Q: Debian's elpa-eglot loads from site-start).
;; Environment: SAMOKODER_BIN, SAMOKODER_WORKSPACE, SAMOKODER_EDITOR_RESULT, SAMOKODER_PACKAGE.

(load (expand-file-name "eglot_common.el" (file-name-directory load-file-name)) nil t)

;; The project is the workspace directory; .ts files are edited in js-mode (Emacs 28 has no TypeScript mode).
;; The server comes from the package's own setup, not from this file.
(add-hook 'project-find-functions (lambda (_dir) (cons 'transient sk-root)))
(add-to-list 'auto-mode-alist '("\\.ts\\'" . js-mode))
(load (getenv "SAMOKODER_PACKAGE") nil t)
(setq samokoder-program sk-bin)
(samokoder-eglot-setup)
(add-hook 'js-mode-hook #'eglot-ensure)
(setq eglot-sync-connect t)

(defun sk-log-has (text)
  (let ((buffer (get-buffer "*samokoder-log*")))
    (and buffer (with-current-buffer buffer
                  (string-match-p (regexp-quote text) (buffer-string))))))

(condition-case err
    (cl-letf (((symbol-function 'y-or-n-p) (lambda (prompt) (push prompt sk-edit-questions) t)))
      (let* ((source (sk-visit "src/clamp.ts"))
             (server (eglot-current-server)))
        (sk-note 'server_class (symbol-name (eieio-object-class server)))
        ;; 1. M-x samokoder-implement on the TODO comment.
        (sk-goto-line-containing "TODO(samokoder)")
        (call-interactively #'samokoder-implement)
        (sk-wait 180 "the implement run to end" (lambda () (sk-log-has "[run] Samokoder: implemented")))
        (sk-note 'implemented_buffer (with-current-buffer source (buffer-substring-no-properties (point-min) (point-max))))
        ;; 2. Break it by hand; the code action "Samokoder: run tests".
        (with-current-buffer source
          (sk-goto-line-containing sk-right)
          (delete-region (line-beginning-position) (line-end-position))
          (insert "  return Math.min(value, max);")
          (let ((last-nonmenu-event ?a))
            (cl-letf (((symbol-function 'completing-read)
                       (lambda (_prompt collection &rest _)
                         (or (cl-find-if (lambda (title) (string-prefix-p "Samokoder: run tests" title))
                                         (mapcar (lambda (c) (if (consp c) (car c) c)) collection))
                             (sk-finish "no run tests action")))))
              (call-interactively #'eglot-code-actions))))
        (sk-wait 180 "the test run to end" (lambda () (sk-log-has "1 test failed")))
        (sk-note 'status (call-interactively #'samokoder-status))
        ;; 3. M-x samokoder-fix on the failing test's line.
        (let ((tests (sk-visit "test/clamp.test.ts")))
          (flymake-start)
          (sk-wait 30 "the failing test's diagnostic"
                   (lambda () (with-current-buffer tests (flymake-diagnostics (point-min) (point-max)))))
          (goto-char (flymake-diagnostic-beg (car (flymake-diagnostics (point-min) (point-max)))))
          (call-interactively #'samokoder-fix))
        (sk-wait 240 "the fix run to end" (lambda () (sk-log-has "fixed in")))
        (sk-note 'fixed_buffer (with-current-buffer source (buffer-substring-no-properties (point-min) (point-max))))
        (sk-note 'log (with-current-buffer "*samokoder-log*" (buffer-string)))
        (sk-note 'messages (vconcat sk-messages))
        (sk-finish nil)))
  (error (sk-finish (format "%S; messages: %S" err sk-messages))))
